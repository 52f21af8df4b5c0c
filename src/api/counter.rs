//! `GET /api/v1/pages/{slug}/counter`: a page's counter as JSON, open to every origin so
//! that other sites can show it.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, Method, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tower_http::cors::{Any, CorsLayer};

use crate::api::ApiError;
use crate::services::pages::public_counter;
use crate::web::AppState;

pub fn routes() -> Router<AppState> {
    let cors = CorsLayer::new().allow_origin(Any).allow_methods([Method::GET]);
    Router::new().route("/api/v1/pages/{slug}/counter", get(show_counter).layer(cors))
}

/// `count` is what the page shows: `actions` in the counter's scope plus `offset`.
#[derive(Debug, Serialize)]
pub struct CounterBody {
    pub count: i64,
    pub actions: i64,
    pub offset: i64,
    pub goal: Option<i64>,
}

async fn show_counter(State(state): State<AppState>, Path(slug): Path<String>) -> Result<impl IntoResponse, ApiError> {
    let counter = public_counter(&state.db, &slug).await?.counter;
    let body =
        CounterBody { count: counter.count(), actions: counter.actions, offset: counter.offset, goal: counter.goal };
    Ok(([(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))], Json(body)))
}
