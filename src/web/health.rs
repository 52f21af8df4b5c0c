//! Health checks for load balancers and monitoring.
//!
//! - `/livez`: the process serves requests (restart it if not).
//! - `/readyz` (and `/healthz`, its older name): the node can take traffic, which needs the
//!   database to answer; a load balancer sends traffic only to ready nodes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::web::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/livez", get(live)).route("/readyz", get(ready)).route("/healthz", get(ready))
}

async fn live() -> Response {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") })).into_response()
}

async fn ready(State(state): State<AppState>) -> Response {
    match state.db.ping().await {
        Ok(()) => Json(json!({ "status": "ok", "database": state.db.backend_name() })).into_response(),
        Err(error) => {
            tracing::error!(%error, "readiness check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable" }))).into_response()
        }
    }
}
