//! Confirming an action from the link in the confirmation email (pages that verify
//! senders). The link opens a page with a button: mail scanners follow every link in an
//! email, and only the supporter's own press of the button (a POST) confirms.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use axum_extra::extract::cookie::CookieJar;
use chrono::Utc;
use serde::Deserialize;

use crate::db;
use crate::db::pages::Page;
use crate::db::pending::Confirmed;
use crate::domain::locale::Locale;
use crate::services::actions::{CONFIRM_PURPOSE, confirm_action};
use crate::web::AppState;
use crate::web::csrf;
use crate::web::error::WebError;
use crate::web::i18n::{UiText, text};

pub fn routes() -> Router<AppState> {
    Router::new().route("/confirm/{token}", get(show_confirm).post(confirm))
}

#[derive(Template)]
#[template(path = "web/confirm.html")]
struct ConfirmPage {
    t: &'static UiText,
    lang: &'static str,
    title: String,
    /// The button's form, when there is something to confirm.
    form: Option<ConfirmForm>,
    /// Why there is nothing to confirm, in each language that applies.
    problems: Vec<&'static str>,
    notice: Option<&'static str>,
    back_url: Option<String>,
}

struct ConfirmForm {
    action: String,
    csrf_field: &'static str,
    csrf_token: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ConfirmFields {
    csrf_token: String,
}

/// The page a token is for; `None` when no pending action has it any more.
async fn page_of(state: &AppState, token: &str) -> Result<Option<(Page, bool)>, WebError> {
    let pending_id = state.signer.verify(CONFIRM_PURPOSE, token).ok_or(WebError::NotFound)?;
    let Some(pending) = db::pending::find(&state.db, pending_id).await? else {
        return Ok(None);
    };
    let page = db::pages::find_by_id(&state.db, pending.page_id).await?.ok_or(WebError::NotFound)?;
    Ok(Some((page, pending.expires_at <= Utc::now())))
}

/// "Used already or replaced": we no longer know the page, so say it in both languages.
fn invalid() -> Result<Response, WebError> {
    let t = text(Locale::En);
    let page = ConfirmPage {
        t,
        lang: "en",
        title: t.confirm_heading.into(),
        form: None,
        problems: vec![t.confirm_invalid, text(Locale::Fr).confirm_invalid],
        notice: None,
        back_url: None,
    };
    Ok((StatusCode::GONE, Html(page.render()?)).into_response())
}

fn expired(page: &Page) -> Result<Response, WebError> {
    let t = text(page.spec.locale);
    let view = ConfirmPage {
        t,
        lang: page.spec.locale.as_str(),
        title: page.spec.title.clone(),
        form: None,
        problems: vec![t.confirm_expired],
        notice: None,
        back_url: Some(format!("/page/{}", page.spec.slug)),
    };
    Ok((StatusCode::GONE, Html(view.render()?)).into_response())
}

fn ask(
    state: &AppState,
    page: &Page,
    token: &str,
    jar: CookieJar,
    notice: Option<&'static str>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let t = text(page.spec.locale);
    let (jar, csrf_token) = state.csrf.issue(jar);
    let view = ConfirmPage {
        t,
        lang: page.spec.locale.as_str(),
        title: page.spec.title.clone(),
        form: Some(ConfirmForm { action: format!("/confirm/{token}"), csrf_field: csrf::FIELD_NAME, csrf_token }),
        problems: Vec::new(),
        notice,
        back_url: None,
    };
    Ok((status, jar, Html(view.render()?)).into_response())
}

async fn show_confirm(
    State(state): State<AppState>,
    Path(token): Path<String>,
    jar: CookieJar,
) -> Result<Response, WebError> {
    match page_of(&state, &token).await? {
        None => invalid(),
        Some((page, true)) => expired(&page),
        Some((page, false)) => ask(&state, &page, &token, jar, None, StatusCode::OK),
    }
}

async fn confirm(
    State(state): State<AppState>,
    Path(token): Path<String>,
    jar: CookieJar,
    fields: Result<Form<ConfirmFields>, FormRejection>,
) -> Result<Response, WebError> {
    let Some((page, is_expired)) = page_of(&state, &token).await? else {
        return invalid();
    };
    if is_expired {
        return expired(&page);
    }
    let csrf_token = fields.map(|Form(f)| f.csrf_token).unwrap_or_default();
    if !state.csrf.verify(&jar, &csrf_token) {
        let notice = Some(text(page.spec.locale).form_expired);
        return ask(&state, &page, &token, jar, notice, StatusCode::FORBIDDEN);
    }
    let thanks = format!("/page/{}/thanks", page.spec.slug);
    match confirm_action(&state.db, &state.site, &token).await? {
        Some(Confirmed::Action { action_id, .. }) => {
            tracing::info!(page = %page.spec.slug, action_id, "action confirmed by its supporter");
            Ok(Redirect::to(&format!("{thanks}#thanks")).into_response())
        }
        Some(Confirmed::AlreadyTaken { .. }) => Ok(Redirect::to(&format!("{thanks}?already=1#thanks")).into_response()),
        Some(Confirmed::Expired { .. }) => expired(&page),
        Some(Confirmed::Unknown) | None => invalid(),
    }
}
