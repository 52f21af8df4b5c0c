//! Accounts, for admins: who can sign in, and with which role.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::admin::auth::capitalise;
use crate::admin::{AdminError, CsrfForm, Nav, NoFields, Organiser};
use crate::db::{self, users::User};
use crate::domain::user::Role;
use crate::services::users::{UserError, create_user, delete_user, set_role};
use crate::web::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(list_users).post(add_user))
        .route("/admin/users/{id}/role", post(change_role))
        .route("/admin/users/{id}/delete", post(remove_user))
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    nav: Nav,
    users: Vec<User>,
    roles: [Role; 3],
    error: Option<String>,
    me: i64,
}

async fn render_users(state: &AppState, organiser: &Organiser, error: Option<String>) -> Result<Response, AdminError> {
    let users = db::users::list(&state.db).await?;
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = UsersPage { nav: organiser.nav(), users, roles: Role::ALL, error, me: organiser.user.id };
    Ok((status, organiser.render(page)?).into_response())
}

async fn list_users(State(state): State<AppState>, organiser: Organiser) -> Result<Response, AdminError> {
    organiser.require(organiser.user.role.can_manage_users())?;
    render_users(&state, &organiser, None).await
}

#[derive(Deserialize)]
struct NewUserForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    password: String,
}

fn user_error(error: UserError) -> Result<String, AdminError> {
    match error {
        UserError::Db(e) => Err(e.into()),
        other => Ok(capitalise(&other.to_string())),
    }
}

async fn add_user(
    State(state): State<AppState>,
    organiser: Organiser,
    CsrfForm(form): CsrfForm<NewUserForm>,
) -> Result<Response, AdminError> {
    organiser.require(organiser.user.role.can_manage_users())?;
    let role = Role::parse(&form.role).ok_or_else(|| AdminError::BadRequest(format!("role {:?}", form.role)))?;
    match create_user(&state.db, &form.email, role, &form.password).await {
        Ok(user) => {
            tracing::info!(by = organiser.user.id, user_id = user.id, role = role.as_str(), "account created");
            Ok(Redirect::to("/admin/users").into_response())
        }
        Err(error) => render_users(&state, &organiser, Some(user_error(error)?)).await,
    }
}

#[derive(Deserialize)]
struct RoleForm {
    role: String,
}

async fn change_role(
    State(state): State<AppState>,
    organiser: Organiser,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<RoleForm>,
) -> Result<Response, AdminError> {
    organiser.require(organiser.user.role.can_manage_users())?;
    let role = Role::parse(&form.role).ok_or_else(|| AdminError::BadRequest(format!("role {:?}", form.role)))?;
    match set_role(&state.db, id, role).await {
        Ok(()) => Ok(Redirect::to("/admin/users").into_response()),
        Err(UserError::NotFound) => Err(AdminError::NotFound),
        Err(error) => render_users(&state, &organiser, Some(user_error(error)?)).await,
    }
}

async fn remove_user(
    State(state): State<AppState>,
    organiser: Organiser,
    Path(id): Path<i64>,
    CsrfForm(_): CsrfForm<NoFields>,
) -> Result<Response, AdminError> {
    organiser.require(organiser.user.role.can_manage_users())?;
    match delete_user(&state.db, id).await {
        Ok(()) => Ok(Redirect::to("/admin/users").into_response()),
        Err(UserError::NotFound) => Err(AdminError::NotFound),
        Err(error) => render_users(&state, &organiser, Some(user_error(error)?)).await,
    }
}
