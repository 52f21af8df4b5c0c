//! Actions, for editors and admins: lists with search, one action in full, deleting spam,
//! and the CSV export. Viewers never see these: they carry personal data.

use askama::Template;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use crate::admin::{AdminError, CsrfForm, Nav, NoFields, Organiser};
use crate::db::actions::{ActionListing, ExportFilter, Scope, StoredAction};
use crate::db::{self};
use crate::services::exports;
use crate::web::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/pages/{slug}/actions", get(page_actions))
        .route("/admin/campaigns/{slug}/actions", get(campaign_actions))
        .route("/admin/actions/{id}", get(show_action))
        .route("/admin/actions/{id}/delete", post(delete_action))
        .route("/admin/export.csv", get(export_csv))
}

const PER_PAGE: i64 = 50;

#[derive(Deserialize, Default)]
#[serde(default)]
struct ListParams {
    q: String,
    page: i64,
}

#[derive(Template)]
#[template(path = "admin/actions.html")]
struct ActionsPage {
    nav: Nav,
    heading: String,
    base: String,
    export_scope: (&'static str, String),
    q: String,
    actions: Vec<ActionListing>,
    total: i64,
    page: i64,
    pages: i64,
}

async fn list(
    state: &AppState,
    organiser: &Organiser,
    scope: Scope,
    heading: String,
    base: String,
    export_scope: (&'static str, String),
    params: ListParams,
) -> Result<Response, AdminError> {
    organiser.require(organiser.user.role.can_see_personal_data())?;
    let page = params.page.max(1);
    let (actions, total) = db::actions::search(&state.db, scope, &params.q, PER_PAGE, (page - 1) * PER_PAGE).await?;
    let pages = (total + PER_PAGE - 1) / PER_PAGE;
    organiser.render(ActionsPage {
        nav: organiser.nav(),
        heading,
        base,
        export_scope,
        q: params.q,
        actions,
        total,
        page,
        pages,
    })
}

async fn page_actions(
    State(state): State<AppState>,
    organiser: Organiser,
    Path(slug): Path<String>,
    Query(params): Query<ListParams>,
) -> Result<Response, AdminError> {
    let page = db::pages::find_by_slug(&state.db, &slug).await?.ok_or(AdminError::NotFound)?;
    let heading = format!("Actions on {}", page.spec.title);
    list(
        &state,
        &organiser,
        Scope::Page(page.id),
        heading,
        format!("/admin/pages/{slug}/actions"),
        ("page", slug),
        params,
    )
    .await
}

async fn campaign_actions(
    State(state): State<AppState>,
    organiser: Organiser,
    Path(slug): Path<String>,
    Query(params): Query<ListParams>,
) -> Result<Response, AdminError> {
    let (id, name) = db::pages::find_campaign(&state.db, &slug).await?.ok_or(AdminError::NotFound)?;
    let heading = format!("Actions in the campaign {name}");
    list(
        &state,
        &organiser,
        Scope::Campaign(id),
        heading,
        format!("/admin/campaigns/{slug}/actions"),
        ("campaign", slug),
        params,
    )
    .await
}

#[derive(Template)]
#[template(path = "admin/action.html")]
struct ActionPage {
    nav: Nav,
    action: StoredAction,
    page_slug: String,
    page_title: String,
}

async fn find_action(state: &AppState, id: i64) -> Result<(StoredAction, db::pages::Page), AdminError> {
    let action = db::actions::find(&state.db, id).await?.ok_or(AdminError::NotFound)?;
    let page = db::pages::find_by_id(&state.db, action.page_id).await?.ok_or(AdminError::NotFound)?;
    Ok((action, page))
}

async fn show_action(
    State(state): State<AppState>,
    organiser: Organiser,
    Path(id): Path<i64>,
) -> Result<Response, AdminError> {
    organiser.require(organiser.user.role.can_see_personal_data())?;
    let (action, page) = find_action(&state, id).await?;
    organiser.render(ActionPage {
        nav: organiser.nav(),
        action,
        page_slug: page.spec.slug.to_string(),
        page_title: page.spec.title.clone(),
    })
}

async fn delete_action(
    State(state): State<AppState>,
    organiser: Organiser,
    Path(id): Path<i64>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AdminError> {
    organiser.require(organiser.user.role.can_edit_pages())?;
    let (_, page) = find_action(&state, id).await?;
    db::actions::delete_counted(&state.db, id).await?.ok_or(AdminError::NotFound)?;
    tracing::info!(by = organiser.user.id, action_id = id, "action deleted");
    Ok(Redirect::to(&format!("/admin/pages/{}/actions", page.spec.slug)).into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ExportParams {
    campaign: String,
    page: String,
    from: String,
    to: String,
}

/// `YYYY-MM-DD` as the start of that day in UTC; `end` gives the start of the next day,
/// so that `to` includes its whole day.
fn day(text: &str, end: bool) -> Result<Option<DateTime<Utc>>, AdminError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let date = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| AdminError::BadRequest(format!("date {text:?}")))?;
    let date = if end { date.succ_opt().unwrap_or(date) } else { date };
    Ok(date.and_hms_opt(0, 0, 0).map(|t| t.and_utc()))
}

async fn export_csv(
    State(state): State<AppState>,
    organiser: Organiser,
    Query(params): Query<ExportParams>,
) -> Result<Response, AdminError> {
    organiser.require(organiser.user.role.can_see_personal_data())?;
    let nonempty = |s: String| (!s.trim().is_empty()).then(|| s.trim().to_string());
    let filter = ExportFilter {
        from: day(&params.from, false)?,
        until: day(&params.to, true)?,
        campaign: nonempty(params.campaign),
        page: nonempty(params.page),
    };
    let name = format!(
        "undersigned-actions-{}-{}.csv",
        filter.page.as_deref().or(filter.campaign.as_deref()).unwrap_or("all"),
        Utc::now().format("%Y%m%d-%H%M")
    );
    tracing::info!(by = organiser.user.id, "actions exported");
    let body = Body::from_stream(exports::stream(state.db.clone(), filter, |_| {}));
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .map_err(|e| AdminError::Unexpected(e.to_string()))?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("private, no-store")),
        ],
        body,
    )
        .into_response())
}
