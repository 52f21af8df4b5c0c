//! Sign-in sessions of the organisers' workspace, stored in the database so that every
//! app node sees them.

use chrono::Utc;
use sqlx::types::Json;

use crate::db::{Db, DbError};

pub async fn save(db: &Db, id: &str, data: &serde_json::Value, expires_at: i64) -> Result<(), DbError> {
    on_writer!(db, pool => sqlx::query(
        "insert into sessions (id, data, expires_at, created_at) values ($1, $2, $3, $4)
         on conflict (id) do update set data = excluded.data, expires_at = excluded.expires_at")
        .bind(id).bind(Json(data)).bind(expires_at).bind(Utc::now()).execute(pool).await.map(|_| ()))?;
    Ok(())
}

/// The session's data, if it exists and has not expired.
pub async fn load(db: &Db, id: &str, now: i64) -> Result<Option<(serde_json::Value, i64)>, DbError> {
    let row: Option<(Json<serde_json::Value>, i64)> = on_reader!(db, pool => sqlx::query_as(
        "select data, expires_at from sessions where id = $1 and expires_at > $2")
        .bind(id).bind(now).fetch_optional(pool).await)?;
    Ok(row.map(|(Json(data), expires)| (data, expires)))
}

pub async fn delete(db: &Db, id: &str) -> Result<(), DbError> {
    on_writer!(db, pool => sqlx::query("delete from sessions where id = $1").bind(id).execute(pool).await.map(|_| ()))?;
    Ok(())
}

pub async fn delete_expired(db: &Db, now: i64) -> Result<u64, DbError> {
    Ok(on_writer!(db, pool => sqlx::query("delete from sessions where expires_at <= $1")
        .bind(now).execute(pool).await.map(|r| r.rows_affected()))?)
}
