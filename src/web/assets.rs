//! Static files, compiled into the binary so that one file is the whole application.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::web::AppState;
use crate::web::error::WebError;

/// Changes with each release, so browsers fetch new assets after an upgrade.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

const ASSETS: &[(&str, &str, &str)] = &[
    ("app.css", "text/css; charset=utf-8", include_str!("../../static/app.css")),
    ("admin.css", "text/css; charset=utf-8", include_str!("../../static/admin.css")),
    ("app.js", "text/javascript; charset=utf-8", include_str!("../../static/app.js")),
    ("demo-border.svg", "image/svg+xml", include_str!("../../static/demo-border.svg")),
];

pub fn routes() -> Router<AppState> {
    Router::new().route("/static/{name}", get(serve_asset))
}

async fn serve_asset(Path(name): Path<String>) -> Result<Response, WebError> {
    let (_, content_type, body) = ASSETS.iter().find(|(file, _, _)| *file == name).ok_or(WebError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
        ],
        *body,
    )
        .into_response())
}
