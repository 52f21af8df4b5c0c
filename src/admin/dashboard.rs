//! Dashboards per page and per campaign: totals, actions over time, views against actions,
//! where supporters came from, and where they are. Figures only: viewers may see them.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use chrono::{DurationRound, TimeDelta, Utc};

use crate::admin::{AdminError, Nav, Organiser};
use crate::db::actions::{Breakdown, Scope, Tally};
use crate::db::pages::{OffsetChange, Page};
use crate::db::{self};
use crate::domain::counter::format_number;
use crate::domain::locale::Locale;
use crate::web::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/pages/{slug}/dashboard", get(page_dashboard))
        .route("/admin/campaigns/{slug}/dashboard", get(campaign_dashboard))
}

pub struct PageFigures {
    pub title: String,
    pub slug: String,
    pub locale: String,
    pub status: String,
    pub actions: i64,
    pub views: i64,
    pub conversion: String,
}

pub struct Bar {
    pub label: String,
    pub value: i64,
    pub height: i64,
}

pub struct Chart {
    pub title: &'static str,
    pub bars: Vec<Bar>,
    pub first: String,
    pub last: String,
}

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct DashboardPage {
    nav: Nav,
    heading: String,
    count: String,
    actions: String,
    offset: String,
    goal: Option<String>,
    pages: Vec<PageFigures>,
    charts: Vec<Chart>,
    tables: Vec<(&'static str, Tally)>,
    offset_changes: Vec<OffsetChange>,
}

/// Buckets from `start`, one per `step`, `count` of them, with the tally's values or zero.
fn chart(title: &'static str, tally: &Tally, labels: Vec<String>) -> Chart {
    let values: Vec<i64> =
        labels.iter().map(|l| tally.iter().find(|(k, _)| k == l).map(|(_, n)| *n).unwrap_or(0)).collect();
    let max = values.iter().copied().max().unwrap_or(0).max(1);
    let bars = labels
        .iter()
        .zip(&values)
        .map(|(label, value)| Bar { label: label.clone(), value: *value, height: value * 100 / max })
        .collect();
    Chart {
        title,
        bars,
        first: labels.first().cloned().unwrap_or_default(),
        last: labels.last().cloned().unwrap_or_default(),
    }
}

fn percent(part: i64, whole: i64) -> String {
    if whole == 0 { "–".into() } else { format!("{:.1}%", part as f64 * 100.0 / whole as f64) }
}

async fn figures(state: &AppState, page: &Page) -> Result<PageFigures, AdminError> {
    let actions = db::counters::page_actions(&state.db, page.id).await?;
    let views = db::page_views::total(&state.db, page.id).await?;
    Ok(PageFigures {
        title: page.spec.title.clone(),
        slug: page.spec.slug.to_string(),
        locale: page.spec.locale.as_str().into(),
        status: page.spec.status.as_str().into(),
        actions,
        views,
        conversion: percent(actions, views),
    })
}

async fn render(
    state: &AppState,
    organiser: &Organiser,
    heading: String,
    scope: Scope,
    pages: Vec<Page>,
    offset: i64,
    goal: Option<i64>,
) -> Result<Response, AdminError> {
    // This node's views not yet written would otherwise be missing from the figures.
    state.page_views.flush(&state.db).await?;
    let now = Utc::now();
    let today = now.duration_trunc(TimeDelta::days(1)).unwrap_or(now);
    let this_hour = now.duration_trunc(TimeDelta::hours(1)).unwrap_or(now);
    let since_day = today - TimeDelta::days(29);
    let since_hour = this_hour - TimeDelta::hours(47);
    let breakdown: Breakdown = db::actions::breakdown(&state.db, scope, since_day, since_hour).await?;
    let days = (0..30).map(|i| (since_day + TimeDelta::days(i)).format("%Y-%m-%d").to_string()).collect();
    let hours = (0..48).map(|i| (since_hour + TimeDelta::hours(i)).format("%Y-%m-%dT%H").to_string()).collect();
    let mut figures_of_pages = Vec::new();
    for page in &pages {
        figures_of_pages.push(figures(state, page).await?);
    }
    let actions: i64 = figures_of_pages.iter().map(|p| p.actions).sum();
    let template = DashboardPage {
        nav: organiser.nav(),
        heading,
        count: format_number(actions + offset, Locale::En),
        actions: format_number(actions, Locale::En),
        offset: format_number(offset, Locale::En),
        goal: goal.map(|g| format_number(g, Locale::En)),
        pages: figures_of_pages,
        charts: vec![
            chart("Actions per day, last 30 days (UTC)", &breakdown.per_day, days),
            chart("Actions per hour, last 48 hours (UTC)", &breakdown.per_hour, hours),
        ],
        tables: vec![
            ("Top referrers", breakdown.referrers),
            ("Top UTM sources", breakdown.utm_sources),
            ("Countries", breakdown.countries),
            ("Postal areas (first three characters)", breakdown.postal_areas),
        ],
        offset_changes: db::pages::offset_changes(&state.db, scope).await?,
    };
    organiser.render(template)
}

async fn page_dashboard(
    State(state): State<AppState>,
    organiser: Organiser,
    Path(slug): Path<String>,
) -> Result<Response, AdminError> {
    let page = db::pages::find_by_slug(&state.db, &slug).await?.ok_or(AdminError::NotFound)?;
    let (offset, goal) = page.spec.counter().map(|c| (c.offset, c.goal)).unwrap_or((0, None));
    let heading = format!("Dashboard: {}", page.spec.title);
    let scope = Scope::Page(page.id);
    if page.spec.counter_scope() == crate::domain::page::CounterScope::Campaign {
        // The page's own actions, with no share of the campaign's offset.
        return render(&state, &organiser, heading, scope, vec![page], 0, goal).await;
    }
    render(&state, &organiser, heading, scope, vec![page], offset, goal).await
}

async fn campaign_dashboard(
    State(state): State<AppState>,
    organiser: Organiser,
    Path(slug): Path<String>,
) -> Result<Response, AdminError> {
    let (id, name) = db::pages::find_campaign(&state.db, &slug).await?.ok_or(AdminError::NotFound)?;
    let pages = db::pages::campaign_pages(&state.db, id).await?;
    let campaign_counter = pages.iter().find(|p| p.spec.counter_scope() == crate::domain::page::CounterScope::Campaign);
    let (offset, goal) =
        campaign_counter.and_then(|p| p.spec.counter()).map(|c| (c.offset, c.goal)).unwrap_or((0, None));
    render(&state, &organiser, format!("Campaign dashboard: {name}"), Scope::Campaign(id), pages, offset, goal).await
}
