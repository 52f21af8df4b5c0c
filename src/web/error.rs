//! Errors of the public web layer and their one mapping to HTTP: an HTML page for people,
//! in English and French (an error can come before we know the page's language). Server
//! errors say nothing of their cause to the visitor; the cause goes to the log.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::db::DbError;
use crate::services::actions::TakeActionError;
use crate::services::pages::PageError;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("not found")]
    NotFound,
    #[error("request rejected ({status}): {detail}")]
    Rejected { status: StatusCode, detail: String },
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("cannot render a template: {0}")]
    Render(#[from] askama::Error),
    #[error("unexpected state: {0}")]
    Unexpected(String),
}

impl From<PageError> for WebError {
    fn from(error: PageError) -> Self {
        match error {
            PageError::NotFound(_) => WebError::NotFound,
            PageError::Db(e) => WebError::Db(e),
            other => WebError::Unexpected(other.to_string()),
        }
    }
}

impl From<TakeActionError> for WebError {
    fn from(error: TakeActionError) -> Self {
        match error {
            TakeActionError::Db(e) => WebError::Db(e),
            TakeActionError::NotPublished => WebError::NotFound,
            other => WebError::Unexpected(other.to_string()),
        }
    }
}

/// A short bilingual page for errors and notices.
#[derive(Template)]
#[template(path = "web/message.html")]
pub struct MessagePage {
    pub title_en: &'static str,
    pub body_en: &'static str,
    pub title_fr: &'static str,
    pub body_fr: &'static str,
}

impl MessagePage {
    pub fn into_response_with(self, status: StatusCode) -> Response {
        match self.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "cannot render the message page");
                (status, self.title_en).into_response()
            }
        }
    }
}

pub const NOT_FOUND: MessagePage = MessagePage {
    title_en: "Page not found",
    body_en: "This page does not exist or is not published yet. Check the address, or follow the link you were sent again.",
    title_fr: "Page introuvable",
    body_fr: "Cette page n'existe pas ou n'est pas encore publiée. Vérifiez l'adresse ou suivez de nouveau le lien reçu.",
};

pub const TOO_MANY: MessagePage = MessagePage {
    title_en: "Too many submissions",
    body_en: "We received many submissions from your connection in a short time. Please wait a minute, then go back and send your form again.",
    title_fr: "Trop d'envois",
    body_fr: "Nous avons reçu beaucoup d'envois depuis votre connexion en peu de temps. Attendez une minute, puis revenez en arrière et envoyez de nouveau le formulaire.",
};

const SERVER_ERROR: MessagePage = MessagePage {
    title_en: "Something went wrong on our side",
    body_en: "Nothing was saved. Please go back and try again in a moment.",
    title_fr: "Un problème est survenu de notre côté",
    body_fr: "Rien n'a été enregistré. Revenez en arrière et réessayez dans un instant.",
};

const BAD_REQUEST: MessagePage = MessagePage {
    title_en: "We could not read this request",
    body_en: "Nothing was saved. Please go back, reload the page and try again.",
    title_fr: "Nous n'avons pas pu lire cette requête",
    body_fr: "Rien n'a été enregistré. Revenez en arrière, rechargez la page et réessayez.",
};

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::NotFound => NOT_FOUND.into_response_with(StatusCode::NOT_FOUND),
            WebError::Rejected { status, detail } => {
                tracing::info!(%status, %detail, "request rejected");
                BAD_REQUEST.into_response_with(status)
            }
            error => {
                tracing::error!(error = %error, "request failed");
                SERVER_ERROR.into_response_with(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }
}
