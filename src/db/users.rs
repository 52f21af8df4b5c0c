//! Organisers' accounts.

use chrono::{DateTime, Utc};

use crate::db::{Db, DbError};
use crate::domain::user::Role;

/// An organiser's account. The password hash never leaves the database layer except to
/// be verified.
#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub role: Role,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    email: String,
    role: String,
    password_hash: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<UserRow> for User {
    type Error = DbError;
    fn try_from(row: UserRow) -> Result<Self, DbError> {
        let role =
            Role::parse(&row.role).ok_or_else(|| DbError::Corrupt(format!("user {}: role {:?}", row.id, row.role)))?;
        Ok(User { id: row.id, email: row.email, role, password_hash: row.password_hash, created_at: row.created_at })
    }
}

const SELECT_USER: &str = "select id, email, role, password_hash, created_at from users";

/// Creates an account; `None` if the email address already has one.
pub async fn insert(db: &Db, email: &str, password_hash: &str, role: Role) -> Result<Option<i64>, DbError> {
    let now = Utc::now();
    let id = on_writer!(db, pool => sqlx::query_scalar(
        "insert into users (email, password_hash, role, created_at, updated_at) values ($1, $2, $3, $4, $4)
         on conflict (email) do nothing returning id")
        .bind(email).bind(password_hash).bind(role.as_str()).bind(now)
        .fetch_optional(pool).await)?;
    Ok(id)
}

pub async fn find_by_email(db: &Db, email: &str) -> Result<Option<User>, DbError> {
    let sql = format!("{SELECT_USER} where email = $1");
    let row: Option<UserRow> = on_reader!(db, pool => sqlx::query_as(&sql).bind(email).fetch_optional(pool).await)?;
    row.map(User::try_from).transpose()
}

pub async fn find_by_id(db: &Db, id: i64) -> Result<Option<User>, DbError> {
    let sql = format!("{SELECT_USER} where id = $1");
    let row: Option<UserRow> = on_reader!(db, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?;
    row.map(User::try_from).transpose()
}

pub async fn list(db: &Db) -> Result<Vec<User>, DbError> {
    let sql = format!("{SELECT_USER} order by email");
    let rows: Vec<UserRow> = on_reader!(db, pool => sqlx::query_as(&sql).fetch_all(pool).await)?;
    rows.into_iter().map(User::try_from).collect()
}

pub async fn set_password_hash(db: &Db, id: i64, password_hash: &str) -> Result<(), DbError> {
    on_writer!(db, pool => sqlx::query("update users set password_hash = $1, updated_at = $2 where id = $3")
        .bind(password_hash).bind(Utc::now()).bind(id).execute(pool).await.map(|_| ()))?;
    Ok(())
}

/// Changes a role, unless that would leave no admin. Returns whether it changed.
pub async fn set_role(db: &Db, id: i64, role: Role) -> Result<bool, DbError> {
    let changed = on_writer!(db, pool => sqlx::query(
        "update users set role = $1, updated_at = $2 where id = $3
           and ($1 = 'admin' or (select count(*) from users where role = 'admin' and id <> $3) > 0)")
        .bind(role.as_str()).bind(Utc::now()).bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(changed > 0)
}

/// Deletes an account, unless it is the last admin. Returns whether it was deleted.
pub async fn delete(db: &Db, id: i64) -> Result<bool, DbError> {
    let deleted = on_writer!(db, pool => sqlx::query(
        "delete from users where id = $1
           and (role <> 'admin' or (select count(*) from users where role = 'admin' and id <> $1) > 0)")
        .bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(deleted > 0)
}
