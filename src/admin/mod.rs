//! The organisers' workspace under `/admin`: sign-in, the page builder, history, actions
//! and their export, dashboards and accounts. Every route needs a signed-in organiser with
//! the right role, and every form is checked against CSRF by [`CsrfForm`].

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};

use crate::db::users::User;
use crate::db::{self, DbError};
use crate::services::users::session_fingerprint;
use crate::web::AppState;

pub mod actions;
pub mod auth;
pub mod dashboard;
pub mod pages;
pub mod session_store;
pub mod sign_in_guard;
pub mod targets;
pub mod users;

const USER_ID: &str = "user_id";
const FINGERPRINT: &str = "fingerprint";

pub fn routes(state: &AppState) -> Router<AppState> {
    let sessions = SessionManagerLayer::new(session_store::DbSessionStore::new(state.db.clone()))
        .with_name("undersigned_session")
        .with_path("/admin")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(state.public_url.starts_with("https://"))
        .with_expiry(Expiry::OnInactivity(time::Duration::hours(8)));
    Router::new()
        .merge(auth::routes())
        .merge(pages::routes())
        .merge(actions::routes())
        .merge(dashboard::routes())
        .merge(users::routes())
        .merge(targets::routes())
        .layer(sessions)
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("sign-in required")]
    SignInRequired { next: String },
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("CSRF check failed")]
    CsrfFailed,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("cannot render: {0}")]
    Render(#[from] askama::Error),
    #[error("session: {0}")]
    Session(#[from] tower_sessions::session::Error),
    #[error("unexpected: {0}")]
    Unexpected(String),
}

#[derive(Template)]
#[template(path = "admin/message.html")]
struct MessagePage<'a> {
    title: &'a str,
    body: &'a str,
}

fn message(status: StatusCode, title: &str, body: &str) -> Response {
    match (MessagePage { title, body }).render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => (status, title.to_string()).into_response(),
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        match self {
            AdminError::SignInRequired { next } => {
                let next: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
                Redirect::to(&format!("/admin/sign-in?next={next}")).into_response()
            }
            AdminError::Forbidden => message(
                StatusCode::FORBIDDEN,
                "Not allowed",
                "Your role does not allow this. Ask an admin if you need it.",
            ),
            AdminError::NotFound => {
                message(StatusCode::NOT_FOUND, "Not found", "There is nothing here. It may have been deleted.")
            }
            AdminError::CsrfFailed => message(
                StatusCode::FORBIDDEN,
                "This form expired",
                "Nothing was changed. Go back, reload the page and try again.",
            ),
            AdminError::BadRequest(detail) => {
                tracing::info!(%detail, "admin request rejected");
                message(
                    StatusCode::BAD_REQUEST,
                    "We could not read this request",
                    "Nothing was changed. Go back and try again.",
                )
            }
            error => {
                tracing::error!(error = %error, "admin request failed");
                message(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "Nothing was changed. Please try again in a moment.",
                )
            }
        }
    }
}

/// What every workspace page shows around its content: who is signed in, and the token
/// for the sign-out form.
pub struct Nav {
    pub email: String,
    pub role: &'static str,
    pub csrf_token: String,
    pub can_manage_users: bool,
}

/// A signed-in organiser, with a CSRF token for the forms of the page being shown.
pub struct Organiser {
    pub user: User,
    pub csrf_token: String,
    pub jar: CookieJar,
}

impl Organiser {
    pub fn nav(&self) -> Nav {
        Nav {
            email: self.user.email.clone(),
            role: self.user.role.as_str(),
            csrf_token: self.csrf_token.clone(),
            can_manage_users: self.user.role.can_manage_users(),
        }
    }

    /// Refuses unless `allowed` (a check of the organiser's role).
    pub fn require(&self, allowed: bool) -> Result<(), AdminError> {
        if allowed { Ok(()) } else { Err(AdminError::Forbidden) }
    }

    /// A page with the organiser's CSRF cookie set.
    pub fn render(&self, template: impl Template) -> Result<Response, AdminError> {
        Ok((self.jar.clone(), Html(template.render()?)).into_response())
    }
}

impl FromRequestParts<AppState> for Organiser {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AdminError> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|(_, message)| AdminError::Unexpected(message.to_string()))?;
        let next = parts.uri.path_and_query().map(|pq| pq.as_str().to_string()).unwrap_or_else(|| "/admin".into());
        let user_id: Option<i64> = session.get(USER_ID).await?;
        let fingerprint: Option<String> = session.get(FINGERPRINT).await?;
        let user = match user_id {
            Some(id) => db::users::find_by_id(&state.db, id).await?,
            None => None,
        };
        let user = match user {
            Some(user) if fingerprint.as_deref() == Some(session_fingerprint(&user).as_str()) => user,
            _ => return Err(AdminError::SignInRequired { next }),
        };
        let (jar, csrf_token) = state.csrf.issue(CookieJar::from_headers(&parts.headers));
        Ok(Organiser { user, csrf_token, jar })
    }
}

/// A form with nothing but its CSRF token (a button).
#[derive(Deserialize)]
pub struct NoFields {}

/// A urlencoded form whose `csrf_token` matched the visitor's cookie; anything else is
/// refused before the handler runs, so no workspace form can forget the check.
pub struct CsrfForm<T>(pub T);

#[derive(Deserialize)]
struct TokenOnly {
    #[serde(default)]
    csrf_token: String,
}

impl<T: DeserializeOwned> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = AdminError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, AdminError> {
        let jar = CookieJar::from_headers(request.headers());
        let body = Bytes::from_request(request, state).await.map_err(|e| AdminError::BadRequest(e.body_text()))?;
        let token: TokenOnly =
            serde_urlencoded::from_bytes(&body).map_err(|e| AdminError::BadRequest(e.to_string()))?;
        if !state.csrf.verify(&jar, &token.csrf_token) {
            return Err(AdminError::CsrfFailed);
        }
        serde_urlencoded::from_bytes(&body).map(CsrfForm).map_err(|e| AdminError::BadRequest(e.to_string()))
    }
}

/// Signs the user in on this session, with a new session id (no fixation).
pub async fn start_session(session: &Session, user: &User) -> Result<(), AdminError> {
    session.cycle_id().await?;
    session.insert(USER_ID, user.id).await?;
    session.insert(FINGERPRINT, session_fingerprint(user)).await?;
    Ok(())
}
