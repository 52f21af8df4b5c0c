//! Targets in the workspace: the decision-makers letters are emailed to. Everyone signed
//! in sees them (their addresses are public office); editors and admins change them. The
//! district table is imported on the command line; here organisers see its size.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::admin::{AdminError, CsrfForm, Nav, NoFields, Organiser};
use crate::db::{self, targets::Target};
use crate::services::targets::{problems, tidy};
use crate::web::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/targets", get(list_targets).post(add_target))
        .route("/admin/targets/{key}", get(show_target).post(update_target))
        .route("/admin/targets/{key}/delete", post(remove_target))
}

#[derive(Template)]
#[template(path = "admin/targets.html")]
struct TargetsPage {
    nav: Nav,
    targets: Vec<Target>,
    districts: i64,
    can_edit: bool,
    /// The add form: blank, or as typed with what was wrong.
    form: TargetFields,
    errors: Vec<(&'static str, String)>,
}

#[derive(Template)]
#[template(path = "admin/target.html")]
struct TargetPage {
    nav: Nav,
    key: String,
    can_edit: bool,
    form: TargetFields,
    errors: Vec<(&'static str, String)>,
}

/// A target as the form carries it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TargetFields {
    key: String,
    name: String,
    title: String,
    salutation: String,
    email: String,
    organisation: String,
    district: String,
    party: String,
    language: String,
}

impl TargetFields {
    fn target(&self) -> Target {
        let some = |v: &str| Some(v.to_string());
        tidy(Target {
            key: self.key.clone(),
            name: self.name.clone(),
            title: some(&self.title),
            salutation: some(&self.salutation),
            email: self.email.clone(),
            organisation: some(&self.organisation),
            district: some(&self.district),
            party: some(&self.party),
            language: some(&self.language),
        })
    }

    fn of(target: Target) -> Self {
        let text = |v: Option<String>| v.unwrap_or_default();
        TargetFields {
            key: target.key,
            name: target.name,
            title: text(target.title),
            salutation: text(target.salutation),
            email: target.email,
            organisation: text(target.organisation),
            district: text(target.district),
            party: text(target.party),
            language: text(target.language),
        }
    }
}

async fn render_list(
    state: &AppState,
    organiser: &Organiser,
    form: TargetFields,
    errors: Vec<(&'static str, String)>,
) -> Result<Response, AdminError> {
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let page = TargetsPage {
        nav: organiser.nav(),
        targets: db::targets::list(&state.db).await?,
        districts: db::districts::count(&state.db).await?,
        can_edit: organiser.user.role.can_edit_pages(),
        form,
        errors,
    };
    Ok((status, organiser.render(page)?).into_response())
}

async fn list_targets(State(state): State<AppState>, organiser: Organiser) -> Result<Response, AdminError> {
    render_list(&state, &organiser, TargetFields::default(), Vec::new()).await
}

async fn add_target(
    State(state): State<AppState>,
    organiser: Organiser,
    CsrfForm(form): CsrfForm<TargetFields>,
) -> Result<Response, AdminError> {
    organiser.require(organiser.user.role.can_edit_pages())?;
    let target = form.target();
    let mut errors = problems(&target);
    if errors.is_empty() && db::targets::find(&state.db, &target.key).await?.is_some() {
        errors.push(("key", "is already used by another target; choose another, or edit that one".into()));
    }
    if !errors.is_empty() {
        return render_list(&state, &organiser, form, errors).await;
    }
    db::targets::save(&state.db, &target).await?;
    tracing::info!(by = organiser.user.id, key = %target.key, "target added");
    Ok(Redirect::to("/admin/targets").into_response())
}

async fn show_target(
    State(state): State<AppState>,
    organiser: Organiser,
    Path(key): Path<String>,
) -> Result<Response, AdminError> {
    let target = db::targets::find(&state.db, &key).await?.ok_or(AdminError::NotFound)?;
    let page = TargetPage {
        nav: organiser.nav(),
        key,
        can_edit: organiser.user.role.can_edit_pages(),
        form: TargetFields::of(target),
        errors: Vec::new(),
    };
    Ok(organiser.render(page)?.into_response())
}

async fn update_target(
    State(state): State<AppState>,
    organiser: Organiser,
    Path(key): Path<String>,
    CsrfForm(mut form): CsrfForm<TargetFields>,
) -> Result<Response, AdminError> {
    organiser.require(organiser.user.role.can_edit_pages())?;
    db::targets::find(&state.db, &key).await?.ok_or(AdminError::NotFound)?;
    // Pages refer to targets by key: it does not change here.
    form.key = key.clone();
    let target = form.target();
    let errors = problems(&target);
    if !errors.is_empty() {
        let page = TargetPage { nav: organiser.nav(), key, can_edit: true, form, errors };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, organiser.render(page)?).into_response());
    }
    db::targets::save(&state.db, &target).await?;
    tracing::info!(by = organiser.user.id, key = %key, "target changed");
    Ok(Redirect::to("/admin/targets").into_response())
}

async fn remove_target(
    State(state): State<AppState>,
    organiser: Organiser,
    Path(key): Path<String>,
    CsrfForm(NoFields {}): CsrfForm<NoFields>,
) -> Result<Response, AdminError> {
    organiser.require(organiser.user.role.can_edit_pages())?;
    if !db::targets::delete(&state.db, &key).await? {
        return Err(AdminError::NotFound);
    }
    tracing::info!(by = organiser.user.id, key = %key, "target removed");
    Ok(Redirect::to("/admin/targets").into_response())
}
