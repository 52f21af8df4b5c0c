//! One-click unsubscribe from the link in every thank-you email. The link opens a page
//! with a button (a POST), because mail scanners follow links; mail clients that support
//! RFC 8058 POST to the same address directly. The signed token is the credential.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::db;
use crate::domain::locale::Locale;
use crate::jobs::outbox::UNSUBSCRIBE_PURPOSE;
use crate::web::AppState;
use crate::web::error::WebError;
use crate::web::i18n::{UiText, text};

pub fn routes() -> Router<AppState> {
    Router::new().route("/unsubscribe/{token}", get(show_unsubscribe).post(unsubscribe))
}

#[derive(Template)]
#[template(path = "web/unsubscribe.html")]
struct UnsubscribePage {
    t: &'static UiText,
    lang: &'static str,
    token: String,
    done: bool,
}

async fn locale_of(state: &AppState, token: &str) -> Result<(i64, Locale), WebError> {
    let action_id = state.signer.verify(UNSUBSCRIBE_PURPOSE, token).ok_or(WebError::NotFound)?;
    let action = db::actions::find(&state.db, action_id).await?.ok_or(WebError::NotFound)?;
    let page = db::pages::find_by_id(&state.db, action.page_id).await?.ok_or(WebError::NotFound)?;
    Ok((action_id, page.spec.locale))
}

async fn show_unsubscribe(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response, WebError> {
    let (_, locale) = locale_of(&state, &token).await?;
    let page = UnsubscribePage { t: text(locale), lang: locale.as_str(), token, done: false };
    Ok(Html(page.render()?).into_response())
}

async fn unsubscribe(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response, WebError> {
    let (action_id, locale) = locale_of(&state, &token).await?;
    db::actions::withdraw_consent(&state.db, action_id).await?;
    tracing::info!(action_id, "consent withdrawn (unsubscribe)");
    let page = UnsubscribePage { t: text(locale), lang: locale.as_str(), token, done: true };
    Ok(Html(page.render()?).into_response())
}
