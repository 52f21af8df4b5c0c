//! The JSON API under `/api/v1`, for embedders and, later, CRMs. Errors are JSON too.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::json;

use crate::db::DbError;
use crate::services::pages::PageError;
use crate::web::AppState;

pub mod counter;
pub mod targets;

pub fn routes() -> Router<AppState> {
    counter::routes().merge(targets::routes())
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("not found")]
    NotFound,
    /// The request was understood but its input is wrong: `code` for programs, `message`
    /// for people (in the page's language).
    #[error("{code}: {message}")]
    Unprocessable { code: &'static str, message: String },
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("unexpected: {0}")]
    Unexpected(String),
}

impl From<PageError> for ApiError {
    fn from(error: PageError) -> Self {
        match error {
            PageError::NotFound(_) => ApiError::NotFound,
            PageError::Db(e) => ApiError::Db(e),
            other => ApiError::Unexpected(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = match &self {
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not_found", "No public page has this slug."),
            ApiError::Unprocessable { code, message } => (StatusCode::UNPROCESSABLE_ENTITY, *code, message.as_str()),
            _ => {
                tracing::error!(error = %self, "API request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Something went wrong on our side.")
            }
        };
        (status, Json(json!({ "error": code, "message": message }))).into_response()
    }
}
