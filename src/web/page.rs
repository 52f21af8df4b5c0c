//! The public action page: showing it, taking action on it, and the thank-you step.

use askama::Template;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use crate::config::Config;
use crate::db::pages::Page;
use crate::db::targets::Target;
use crate::domain::action::{Submission, Tracking};
use crate::domain::counter::ActionCounter;
use crate::domain::field::FieldErrors;
use crate::domain::page::{Block, PageStatus};
use crate::services::actions::{ActionOutcome, TakeActionError, take_action};
use crate::services::pages::public_page;
use crate::web::AppState;
use crate::web::error::WebError;
use crate::web::i18n::{UiText, text};
use crate::web::rate_limit;
use crate::web::views::{AsideView, CounterView, FormView, SectionView, ShareLink, markdown_html};

pub fn routes(config: &Config) -> Router<AppState> {
    Router::new()
        .route("/page/{slug}", get(show_page).merge(rate_limit::limit(post(submit_action), config)))
        .route("/page/{slug}/thanks", get(show_thanks))
}

/// Campaign tags of the link a supporter followed.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TrackingParams {
    utm_source: Option<String>,
    utm_medium: Option<String>,
    utm_campaign: Option<String>,
    utm_content: Option<String>,
    utm_term: Option<String>,
}

/// The action form as posted. Every field is optional here: what is missing is reported
/// by the domain's checks, beside the field, rather than as a generic rejection.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ActionForm {
    pub csrf_token: String,
    /// The honeypot: hidden from people, tempting to scripts.
    pub website: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub postal_code: String,
    pub country: String,
    pub subject: Option<String>,
    pub message: Option<String>,
    pub consent: Option<String>,
    pub reviewed_targets: Option<String>,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub utm_content: Option<String>,
    pub utm_term: Option<String>,
    pub referrer: Option<String>,
}

impl ActionForm {
    fn submission(&self) -> Submission {
        Submission {
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            email: self.email.clone(),
            postal_code: self.postal_code.clone(),
            country: self.country.clone(),
            subject: self.subject.clone(),
            message: self.message.clone(),
            consent: self.consent.as_deref().is_some_and(|v| !v.is_empty()),
            reviewed_targets: self.reviewed_targets.clone(),
        }
    }

    fn tracking(&self) -> Tracking {
        Tracking::new(
            [&self.utm_source, &self.utm_medium, &self.utm_campaign, &self.utm_content, &self.utm_term]
                .map(|v| v.as_deref()),
            self.referrer.as_deref(),
        )
    }

    /// A blank form that carries where the supporter came from.
    fn blank(tracking: Tracking) -> Self {
        ActionForm {
            utm_source: tracking.utm_source,
            utm_medium: tracking.utm_medium,
            utm_campaign: tracking.utm_campaign,
            utm_content: tracking.utm_content,
            utm_term: tracking.utm_term,
            referrer: tracking.referrer,
            ..ActionForm::default()
        }
    }
}

#[derive(Template)]
#[template(path = "web/page.html")]
struct PageTemplate {
    t: &'static UiText,
    lang: &'static str,
    campaign_name: String,
    title: String,
    intro: Option<String>,
    description: String,
    page_url: String,
    sections: Vec<SectionView>,
    aside: Vec<AsideView>,
    scripts: Option<String>,
}

#[derive(Template)]
#[template(path = "web/thanks.html")]
struct ThanksTemplate {
    t: &'static UiText,
    lang: &'static str,
    campaign_name: String,
    title: String,
    heading: String,
    body_html: String,
    /// The action waits for the supporter to confirm it from their email.
    awaiting: bool,
    already: bool,
    counter: Option<CounterView>,
    share: Vec<ShareLink>,
    copy_link: bool,
    page_url: String,
    back_url: String,
    scripts: Option<String>,
}

/// What the form shows: what the person typed, and what was wrong with it.
struct FormState<'a> {
    values: &'a ActionForm,
    errors: &'a FieldErrors,
    notice: Option<&'static str>,
    /// The targets a district lookup found, for the supporter to see before sending.
    review: Option<&'a [Target]>,
}

async fn show_page(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
    headers: HeaderMap,
    query: Result<Query<TrackingParams>, QueryRejection>,
) -> Result<Response, WebError> {
    let page = public_page(&state.db, &slug).await?;
    state.page_views.record(page.id);
    let params = query.map(|Query(params)| params).unwrap_or_default();
    let referrer = headers.get(header::REFERER).and_then(|value| value.to_str().ok());
    let tracking = Tracking::new(
        [&params.utm_source, &params.utm_medium, &params.utm_campaign, &params.utm_content, &params.utm_term]
            .map(|v| v.as_deref()),
        referrer,
    );
    if tracking.is_empty() {
        // Most visitors: the page as everyone sees it, with their own form token.
        let counter = counter_for_page(&state, &page).await?;
        let (jar, token) = state.csrf.issue(jar);
        let html = state.rendered_pages.html(&page, counter, &token, |placeholder| {
            let form = ActionForm::default();
            let state_of_form =
                FormState { values: &form, errors: &FieldErrors::default(), notice: None, review: None };
            page_html(&state, &page, counter, state_of_form, placeholder)
        })?;
        return Ok((jar, private_no_store(), Html(html)).into_response());
    }
    let form = ActionForm::blank(tracking);
    let state_of_form = FormState { values: &form, errors: &FieldErrors::default(), notice: None, review: None };
    render_page(&state, &page, jar, state_of_form, StatusCode::OK).await
}

/// The latest rendering of each public page with a blank form, split where the visitor's
/// form token goes: rendered again only when the page or its counter changes.
#[derive(Default)]
pub struct RenderedPages {
    pages: std::sync::RwLock<std::collections::HashMap<i64, std::sync::Arc<RenderedPage>>>,
}

pub struct RenderedPage {
    page: std::sync::Arc<Page>,
    counter: Option<ActionCounter>,
    /// The HTML between the places of the form token.
    parts: Vec<String>,
}

/// Stands for the form token while a page is rendered for everyone: letters and digits
/// only, so escaping leaves it as it is.
const TOKEN_PLACEHOLDER: &str = "UndersignedFormTokenPlaceholder7f3c9a";

impl RenderedPages {
    fn html(
        &self,
        page: &std::sync::Arc<Page>,
        counter: Option<ActionCounter>,
        token: &str,
        render: impl FnOnce(&str) -> Result<String, WebError>,
    ) -> Result<String, WebError> {
        let cached = self.pages.read().unwrap_or_else(|poisoned| poisoned.into_inner()).get(&page.id).cloned();
        let rendered = match cached {
            Some(rendered) if std::sync::Arc::ptr_eq(&rendered.page, page) && rendered.counter == counter => rendered,
            _ => {
                let html = render(TOKEN_PLACEHOLDER)?;
                let parts = html.split(TOKEN_PLACEHOLDER).map(str::to_string).collect();
                let rendered = std::sync::Arc::new(RenderedPage { page: page.clone(), counter, parts });
                let mut pages = self.pages.write().unwrap_or_else(|poisoned| poisoned.into_inner());
                pages.insert(page.id, rendered.clone());
                rendered
            }
        };
        let length = rendered.parts.iter().map(String::len).sum::<usize>() + token.len() * rendered.parts.len();
        let mut html = String::with_capacity(length);
        for (n, part) in rendered.parts.iter().enumerate() {
            if n > 0 {
                html.push_str(token);
            }
            html.push_str(part);
        }
        Ok(html)
    }
}

async fn submit_action(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    jar: CookieJar,
    form: Result<Form<ActionForm>, FormRejection>,
) -> Result<Response, WebError> {
    let page = public_page(&state.db, &slug).await?;
    let Form(form) =
        form.map_err(|rejection| WebError::Rejected { status: rejection.status(), detail: rejection.body_text() })?;
    let no_errors = FieldErrors::default();
    let as_typed = |notice| FormState { values: &form, errors: &no_errors, notice, review: None };

    if page.spec.status == PageStatus::Closed {
        return render_page(&state, &page, jar, as_typed(None), StatusCode::GONE).await;
    }
    if !state.csrf.verify(&jar, &form.csrf_token) {
        let notice = Some(text(page.spec.locale).form_expired);
        return render_page(&state, &page, jar, as_typed(notice), StatusCode::FORBIDDEN).await;
    }
    // The redirect names its own fragment: otherwise browsers keep the form's `#take-action`.
    let thanks = format!("/page/{}/thanks", page.spec.slug);
    let thanks_again = format!("{thanks}?already=1#thanks");
    let thanks = format!("{thanks}#thanks");
    if !form.website.trim().is_empty() {
        tracing::info!(page = %page.spec.slug, "honeypot field filled; submission discarded");
        return Ok(Redirect::to(&thanks).into_response());
    }
    match take_action(&state.db, &state.site, &page, &form.submission(), &form.tracking()).await {
        Ok(ActionOutcome::Recorded { action_id }) => {
            tracing::info!(page = %page.spec.slug, action_id, "action recorded");
            Ok(Redirect::to(&thanks).into_response())
        }
        Ok(ActionOutcome::AwaitingConfirmation { pending_id }) => {
            tracing::info!(page = %page.spec.slug, pending_id, "action awaiting the supporter's confirmation");
            Ok(Redirect::to(&format!("/page/{}/thanks?confirm=1#thanks", page.spec.slug)).into_response())
        }
        Ok(ActionOutcome::AlreadyTaken) => Ok(Redirect::to(&thanks_again).into_response()),
        Err(TakeActionError::ReviewTargets(targets)) => {
            let notice = Some(text(page.spec.locale).review_targets);
            let form_state = FormState { values: &form, errors: &no_errors, notice, review: Some(&targets) };
            render_page(&state, &page, jar, form_state, StatusCode::OK).await
        }
        Err(TakeActionError::Invalid(errors)) => {
            let form_state = FormState { values: &form, errors: &errors, notice: None, review: None };
            render_page(&state, &page, jar, form_state, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(TakeActionError::Closed) => render_page(&state, &page, jar, as_typed(None), StatusCode::GONE).await,
        Err(error) => Err(error.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ThanksParams {
    already: Option<String>,
    /// The action waits for the supporter to confirm from their email.
    confirm: Option<String>,
}

async fn show_thanks(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    query: Result<Query<ThanksParams>, QueryRejection>,
) -> Result<Response, WebError> {
    let page = public_page(&state.db, &slug).await?;
    let spec = &page.spec;
    let t = text(spec.locale);
    let thanks = spec.thank_you();
    let counter = match (spec.counter(), thanks.is_none_or(|block| block.show_counter)) {
        (Some(block), true) => Some(CounterView::new(counter_of(&state, &page).await?, block, spec.locale, &spec.slug)),
        _ => None,
    };
    let page_url = format!("{}/page/{}", state.public_url, spec.slug);
    let channels = thanks.map(|block| block.share.clone()).unwrap_or_else(crate::domain::page::ShareChannel::all);
    let params = query.map(|Query(params)| params).unwrap_or_default();
    let awaiting = params.confirm.is_some();
    let heading = match (awaiting, thanks) {
        (true, _) => t.check_email_heading.to_string(),
        (false, Some(block)) => block.heading.clone(),
        (false, None) => t.thanks_heading.to_string(),
    };
    let template = ThanksTemplate {
        t,
        awaiting,
        lang: spec.locale.as_str(),
        campaign_name: spec.campaign.name.clone(),
        title: spec.title.clone(),
        heading,
        body_html: if awaiting { String::new() } else { thanks.map(|b| markdown_html(&b.body)).unwrap_or_default() },
        already: params.already.is_some(),
        counter,
        share: ShareLink::for_channels(&channels, t, &page_url, &spec.title, &spec.share_text),
        copy_link: channels.contains(&crate::domain::page::ShareChannel::Copy),
        back_url: format!("/page/{}", spec.slug),
        page_url,
        scripts: spec.scripts().map(|s| s.html.clone()),
    };
    Ok((private_no_store(), Html(template.render()?)).into_response())
}

/// The page exactly as the public will see it, whatever its status: the builder's preview.
pub async fn preview_page(state: &AppState, page: &Page, jar: CookieJar) -> Result<Response, WebError> {
    let form = ActionForm::default();
    let state_of_form = FormState { values: &form, errors: &FieldErrors::default(), notice: None, review: None };
    render_page(state, page, jar, state_of_form, StatusCode::OK).await
}

/// The page's counter, whatever the page's status (previews show drafts).
async fn counter_of(state: &AppState, page: &Page) -> Result<ActionCounter, WebError> {
    let counter = crate::db::counters::for_page_cached(&state.db, page.spec.slug.as_str()).await?;
    Ok(counter.ok_or(WebError::NotFound)?.counter)
}

async fn render_page(
    state: &AppState,
    page: &Page,
    jar: CookieJar,
    form: FormState<'_>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let counter = counter_for_page(state, page).await?;
    let (jar, token) = state.csrf.issue(jar);
    let html = page_html(state, page, counter, form, &token)?;
    Ok((status, jar, private_no_store(), Html(html)).into_response())
}

/// The counter the page shows, if it has one.
async fn counter_for_page(state: &AppState, page: &Page) -> Result<Option<ActionCounter>, WebError> {
    Ok(match page.spec.counter() {
        Some(_) => Some(counter_of(state, page).await?),
        None => None,
    })
}

fn page_html(
    state: &AppState,
    page: &Page,
    counter: Option<ActionCounter>,
    form: FormState<'_>,
    token: &str,
) -> Result<String, WebError> {
    let spec = &page.spec;
    let t = text(spec.locale);
    let mut sections = Vec::new();
    let mut aside = Vec::new();
    for block in &spec.blocks {
        match block {
            Block::CampaignSection(section) => sections.push(SectionView::new(section)),
            Block::Counter(block) => {
                let counter = counter.ok_or_else(|| WebError::Unexpected("counter block without a counter".into()))?;
                aside.push(AsideView::Counter(CounterView::new(counter, block, spec.locale, &spec.slug)));
            }
            Block::Form(block) if spec.status == PageStatus::Closed => {
                let message = spec.closing_message.as_deref().unwrap_or(block.call_to_action.as_str());
                aside.push(AsideView::Closed { heading: t.closed_heading, body_html: markdown_html(message) });
            }
            Block::Form(block) => {
                let view =
                    FormView::new(spec, block, form.values, form.errors, form.notice, form.review, token.to_string());
                aside.push(AsideView::Form(Box::new(view)));
            }
            Block::Scripts(_) | Block::ThankYou(_) => {}
        }
    }
    let template = PageTemplate {
        t,
        lang: spec.locale.as_str(),
        campaign_name: spec.campaign.name.clone(),
        title: spec.title.clone(),
        intro: spec.intro.clone(),
        description: spec.share_text.clone(),
        page_url: format!("{}/page/{}", state.public_url, spec.slug),
        sections,
        aside,
        scripts: spec.scripts().map(|s| s.html.clone()),
    };
    Ok(template.render()?)
}

/// Pages carry a per-visitor form token: shared caches must not keep them.
fn private_no_store() -> [(header::HeaderName, HeaderValue); 1] {
    [(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"))]
}
