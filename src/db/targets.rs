//! Targets: the decision-makers letters are emailed to.

use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::db::{Db, DbError};

/// A target as organisers describe it (also a row of the targets CSV).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Target {
    /// A short, stable name pages refer to, like `prime-minister`.
    pub key: String,
    pub name: String,
    #[serde(default)]
    pub title: Option<String>,
    /// How a letter to them opens, like "Dear Prime Minister".
    #[serde(default)]
    pub salutation: Option<String>,
    pub email: String,
    #[serde(default)]
    pub organisation: Option<String>,
    #[serde(default)]
    pub district: Option<String>,
    #[serde(default)]
    pub party: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
}

const COLUMNS: &str = "key, name, title, salutation, email, organisation, district, party, language";

/// Creates the target, or updates the one with the same key.
pub async fn save(db: &Db, target: &Target) -> Result<(), DbError> {
    let now = Utc::now();
    on_writer!(db, pool => sqlx::query(&format!(
        "insert into targets ({COLUMNS}, created_at, updated_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
         on conflict (key) do update set name = excluded.name, title = excluded.title, salutation = excluded.salutation,
            email = excluded.email, organisation = excluded.organisation, district = excluded.district,
            party = excluded.party, language = excluded.language, updated_at = excluded.updated_at"))
        .bind(&target.key).bind(&target.name).bind(&target.title).bind(&target.salutation).bind(&target.email)
        .bind(&target.organisation).bind(&target.district).bind(&target.party).bind(&target.language).bind(now)
        .execute(pool).await.map(|_| ()))?;
    Ok(())
}

pub async fn list(db: &Db) -> Result<Vec<Target>, DbError> {
    Ok(
        on_reader!(db, pool => sqlx::query_as(&format!("select {COLUMNS} from targets order by key")).fetch_all(pool).await)?,
    )
}

/// The targets with these keys, in the order of the keys; unknown keys are skipped.
pub async fn find_by_keys(db: &Db, keys: &[String]) -> Result<Vec<Target>, DbError> {
    let sql = format!("select {COLUMNS} from targets where key = $1");
    let mut found = Vec::with_capacity(keys.len());
    for key in keys {
        let target: Option<Target> = on_reader!(db, pool => sqlx::query_as(&sql).bind(key).fetch_optional(pool).await)?;
        found.extend(target);
    }
    Ok(found)
}

/// The target with this key.
pub async fn find(db: &Db, key: &str) -> Result<Option<Target>, DbError> {
    let sql = format!("select {COLUMNS} from targets where key = $1");
    Ok(on_reader!(db, pool => sqlx::query_as(&sql).bind(key).fetch_optional(pool).await)?)
}

/// The targets of these districts (an MP by riding), by district then name.
pub async fn in_districts(db: &Db, districts: &[String]) -> Result<Vec<Target>, DbError> {
    let sql = format!("select {COLUMNS} from targets where district = $1 order by name, key");
    let mut found = Vec::new();
    for district in districts {
        let targets: Vec<Target> = on_reader!(db, pool => sqlx::query_as(&sql).bind(district).fetch_all(pool).await)?;
        found.extend(targets);
    }
    Ok(found)
}

/// Removes a target; returns whether there was one. Pages naming its key no longer email it.
pub async fn delete(db: &Db, key: &str) -> Result<bool, DbError> {
    let deleted = on_writer!(db, pool => sqlx::query("delete from targets where key = $1")
        .bind(key).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(deleted > 0)
}
