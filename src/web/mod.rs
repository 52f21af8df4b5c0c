//! The public website: action pages, the thank-you step, the site's front page, health
//! and static assets. Handlers are thin: extract, call a service, render.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Request, StatusCode, header};
use axum::response::IntoResponse;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::db::Db;

pub mod assets;
pub mod confirm;
pub mod csrf;
pub mod error;
pub mod health;
pub mod home;
pub mod i18n;
pub mod page;
pub mod rate_limit;
pub mod unsubscribe;
pub mod views;

/// Everything a request handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<App>);

pub struct App {
    pub db: Db,
    pub config: Config,
    pub csrf: csrf::Csrf,
    /// The site's public base URL, without a trailing slash.
    pub public_url: String,
    pub sign_in_guard: crate::admin::sign_in_guard::SignInGuard,
    pub page_views: crate::services::page_views::PageViews,
    /// The latest rendering of each public page for a visitor who brings nothing of their own.
    pub rendered_pages: page::RenderedPages,
    pub site: crate::services::actions::Site,
    /// Signs the links in emails (unsubscribe).
    pub signer: crate::signing::Signer,
}

impl AppState {
    pub fn new(db: Db, config: Config, secret_key: &[u8], public_url: String) -> Self {
        let csrf = csrf::Csrf::new(secret_key, public_url.starts_with("https://"));
        let signer = crate::signing::Signer::new(secret_key);
        let site = crate::services::actions::Site {
            public_url: public_url.clone(),
            from_name: config.mail.from_name.clone(),
            signer: signer.clone(),
            confirm_link_hours: config.mail.confirm_link_hours,
        };
        Self(Arc::new(App {
            db,
            config,
            csrf,
            public_url,
            sign_in_guard: Default::default(),
            page_views: Default::default(),
            rendered_pages: Default::default(),
            site,
            signer,
        }))
    }
}

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

/// Largest request body accepted: a letter is at most a few kilobytes.
const BODY_LIMIT: usize = 64 * 1024;
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole application: public pages, API and middleware.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(page::routes(&state.config))
        .merge(crate::api::routes())
        .merge(crate::admin::routes(&state))
        .merge(home::routes())
        .merge(unsubscribe::routes())
        .merge(confirm::routes())
        .merge(health::routes())
        .merge(assets::routes())
        .fallback(|| async { error::WebError::NotFound })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(CatchPanicLayer::custom(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(30)))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN")))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let request_id = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
            // The path only: query strings can carry personal data.
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id)
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}
