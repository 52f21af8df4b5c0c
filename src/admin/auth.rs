//! Signing in and out, and changing one's password.

use std::net::SocketAddr;

use askama::Template;
use axum::Router;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use tower_sessions::Session;

use crate::admin::{AdminError, CsrfForm, Nav, NoFields, Organiser, start_session};
use crate::services::users::{UserError, authenticate, change_password};
use crate::web::AppState;
use crate::web::rate_limit::client_ip;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(|| async { Redirect::to("/admin/pages") }))
        .route("/admin/sign-in", get(show_sign_in).post(sign_in))
        .route("/admin/sign-out", axum::routing::post(sign_out))
        .route("/admin/account/password", get(show_password).post(update_password))
}

#[derive(Template)]
#[template(path = "admin/sign_in.html")]
struct SignInPage {
    csrf_token: String,
    next: String,
    email: String,
    error: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NextParam {
    next: String,
}

/// Only paths inside the workspace: never an open redirect to another site.
fn safe_next(next: &str) -> String {
    if next.starts_with("/admin") && !next.starts_with("//") { next.to_string() } else { "/admin/pages".into() }
}

async fn show_sign_in(
    State(state): State<AppState>,
    jar: CookieJar,
    Query(params): Query<NextParam>,
) -> Result<Response, AdminError> {
    let (jar, csrf_token) = state.csrf.issue(jar);
    let page = SignInPage { csrf_token, next: safe_next(&params.next), email: String::new(), error: None };
    Ok((jar, Html(page.render()?)).into_response())
}

#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

async fn sign_in(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    session: Session,
    CsrfForm(form): CsrfForm<SignInForm>,
) -> Result<Response, AdminError> {
    let ip = client_ip(&headers, Some(peer), state.config.behind_proxy);
    let refuse = |status: StatusCode, error: &str| -> Result<Response, AdminError> {
        let (jar, csrf_token) = state.csrf.issue(jar.clone());
        let page = SignInPage {
            csrf_token,
            next: safe_next(&form.next),
            email: form.email.clone(),
            error: Some(error.to_string()),
        };
        Ok((status, jar, Html(page.render()?)).into_response())
    };
    if let Some(wait) = state.sign_in_guard.blocked_for(ip, &form.email) {
        let minutes = wait.as_secs().div_ceil(60);
        let mut response = refuse(
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "Too many failed attempts. Try again in {minutes} minute(s), or ask an admin to reset your password."
            ),
        )?;
        response.headers_mut().insert("retry-after", wait.as_secs().max(1).into());
        return Ok(response);
    }
    match authenticate(&state.db, &form.email, &form.password).await {
        Ok(Some(user)) => {
            state.sign_in_guard.record_success(ip, &form.email);
            start_session(&session, &user).await?;
            tracing::info!(user_id = user.id, "signed in");
            Ok(Redirect::to(&safe_next(&form.next)).into_response())
        }
        Ok(None) => {
            state.sign_in_guard.record_failure(ip, &form.email);
            refuse(StatusCode::UNAUTHORIZED, "The email address or the password is not right.")
        }
        Err(UserError::Db(e)) => Err(e.into()),
        Err(e) => Err(AdminError::Unexpected(e.to_string())),
    }
}

async fn sign_out(session: Session, CsrfForm(_): CsrfForm<NoFields>) -> Result<Response, AdminError> {
    session.flush().await?;
    Ok(Redirect::to("/admin/sign-in").into_response())
}

#[derive(Template)]
#[template(path = "admin/password.html")]
struct PasswordPage {
    nav: Nav,
    error: Option<String>,
    done: bool,
}

async fn show_password(organiser: Organiser) -> Result<Response, AdminError> {
    organiser.render(PasswordPage { nav: organiser.nav(), error: None, done: false })
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    confirm: String,
}

async fn update_password(
    State(state): State<AppState>,
    session: Session,
    organiser: Organiser,
    CsrfForm(form): CsrfForm<PasswordForm>,
) -> Result<Response, AdminError> {
    let error = if form.new != form.confirm {
        Some("The new password and its confirmation differ.".to_string())
    } else {
        match change_password(&state.db, &organiser.user, &form.current, &form.new).await {
            Ok(user) => {
                // Other sessions of this account end; this one carries on.
                start_session(&session, &user).await?;
                None
            }
            Err(UserError::Db(e)) => return Err(e.into()),
            Err(e) => Some(capitalise(&e.to_string())),
        }
    };
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let done = error.is_none();
    let page = PasswordPage { nav: organiser.nav(), error, done };
    Ok((status, organiser.render(page)?).into_response())
}

pub(crate) fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect::<String>() + ".",
        None => String::new(),
    }
}
