//! The site's front page: a list of its public action pages.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;

use crate::db::pages::PageSummary;
use crate::domain::locale::Locale;
use crate::services::pages::public_pages;
use crate::web::AppState;
use crate::web::error::WebError;
use crate::web::i18n::{UiText, text};

pub fn routes() -> Router<AppState> {
    Router::new().route("/", get(show_home))
}

#[derive(Template)]
#[template(path = "web/home.html")]
struct HomeTemplate {
    t: &'static UiText,
    lang: &'static str,
    pages: Vec<PageSummary>,
}

async fn show_home(State(state): State<AppState>) -> Result<Html<String>, WebError> {
    let pages = public_pages(&state.db).await?;
    let template = HomeTemplate { t: text(Locale::En), lang: Locale::En.as_str(), pages };
    Ok(Html(template.render()?))
}
