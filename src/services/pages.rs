//! Pages: import from and export to files, and finding the pages the public may see.

use std::path::Path;

use crate::db::counters::PageCounter;
use crate::db::pages::{Page, PageSummary};
use crate::db::{self, Db, DbError};
use crate::domain::page::{PageFormat, PageSpec, PageStatus, SpecError};

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("there is no page {0:?}")]
    NotFound(String),
    #[error("{path}: {message}")]
    Unreadable { path: String, message: String },
    #[error("{}", format_spec_errors(.0))]
    Invalid(Vec<SpecError>),
    #[error(transparent)]
    Db(#[from] DbError),
}

fn format_spec_errors(errors: &[SpecError]) -> String {
    let lines: Vec<String> = errors.iter().map(|e| format!("  - {e}")).collect();
    format!("the page is not valid:\n{}", lines.join("\n"))
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub slug: String,
    pub created: bool,
}

/// Reads a page file (TOML or YAML, by extension) without storing it.
pub fn read_page_file(path: &Path) -> Result<PageSpec, PageError> {
    let unreadable = |message: String| PageError::Unreadable { path: path.display().to_string(), message };
    let format = PageFormat::from_path(path).ok_or_else(|| unreadable("use a .toml, .yaml or .yml file".into()))?;
    let text = std::fs::read_to_string(path).map_err(|e| unreadable(e.to_string()))?;
    let spec = PageSpec::from_text(&text, format).map_err(unreadable)?;
    spec.validate().map_err(PageError::Invalid)?;
    Ok(spec)
}

/// Checks a page and stores it, replacing the page with the same slug.
pub async fn import_page(db: &Db, spec: &PageSpec) -> Result<Imported, PageError> {
    spec.validate().map_err(PageError::Invalid)?;
    let note = db::pages::ChangeNote { user_id: None, summary: "Imported from a page file" };
    let (page, created) = db::pages::save(db, spec, note).await?;
    Ok(Imported { slug: page.spec.slug.to_string(), created })
}

/// The page as a file would describe it.
pub async fn export_page(db: &Db, slug: &str) -> Result<PageSpec, PageError> {
    let page = db::pages::find_by_slug(db, slug).await?.ok_or_else(|| PageError::NotFound(slug.to_string()))?;
    Ok(page.spec)
}

/// A page the public may see: live or closed, never a draft. Read through the process's
/// short-lived cache (`db::cache`).
pub async fn public_page(db: &Db, slug: &str) -> Result<std::sync::Arc<Page>, PageError> {
    match db::pages::find_by_slug_cached(db, slug).await? {
        Some(page) if page.spec.status != PageStatus::Draft => Ok(page),
        _ => Err(PageError::NotFound(slug.to_string())),
    }
}

/// The counter of a public page.
pub async fn public_counter(db: &Db, slug: &str) -> Result<PageCounter, PageError> {
    match db::counters::for_page_cached(db, slug).await? {
        Some(counter) if counter.status != PageStatus::Draft => Ok(counter),
        _ => Err(PageError::NotFound(slug.to_string())),
    }
}

/// Live and closed pages, newest first.
pub async fn public_pages(db: &Db) -> Result<Vec<PageSummary>, PageError> {
    Ok(db::pages::list_public(db).await?)
}
