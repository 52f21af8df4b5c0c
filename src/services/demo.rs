//! The demo campaign, shipped as page files inside the binary, so that `serve --demo`
//! shows a complete campaign on a fresh machine.

use crate::db::{self, Db};
use crate::domain::page::{PageFormat, PageSpec};
use crate::services::pages::{PageError, import_page};

/// The demo's page files: an English letter page and its French counterpart, in one
/// campaign with one shared counter.
pub const DEMO_PAGES: &[(&str, &str)] = &[
    ("demo/dont-abandon-refugees.toml", include_str!("../../demo/dont-abandon-refugees.toml")),
    ("demo/ne-abandonnez-pas-les-refugies.toml", include_str!("../../demo/ne-abandonnez-pas-les-refugies.toml")),
];

/// Imports each demo page that is not there yet; leaves existing pages as organisers
/// left them. Returns the slugs it imported.
pub async fn load_demo(db: &Db) -> Result<Vec<String>, PageError> {
    let mut loaded = Vec::new();
    for (path, text) in DEMO_PAGES {
        let spec = PageSpec::from_text(text, PageFormat::Toml)
            .map_err(|message| PageError::Unreadable { path: (*path).to_string(), message })?;
        if db::pages::find_by_slug(db, spec.slug.as_str()).await?.is_none() {
            loaded.push(import_page(db, &spec).await?.slug);
        }
    }
    Ok(loaded)
}
