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
    db.cache.targets_changed();
    Ok(())
}

pub async fn list(db: &Db) -> Result<Vec<Target>, DbError> {
    Ok(
        on_reader!(db, pool => sqlx::query_as(&format!("select {COLUMNS} from targets order by key")).fetch_all(pool).await)?,
    )
}

/// The targets with these keys, in the order of the keys; unknown keys are skipped. Every
/// action on a page with fixed recipients asks for them, so they come from the read cache
/// (`db::cache`) when it has them: one database query less per action, on the database
/// that every node shares.
pub async fn find_by_keys(db: &Db, keys: &[String]) -> Result<Vec<Target>, DbError> {
    let mut found = Vec::with_capacity(keys.len());
    for key in keys {
        let target = match db.cache.target(key) {
            Some(cached) => cached,
            None => {
                let ticket = db.cache.target_ticket();
                let target = find(db, key).await?;
                db.cache.put_target(key, ticket, target.clone());
                target
            }
        };
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
    db.cache.targets_changed();
    Ok(deleted > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(key: &str, email: &str) -> Target {
        Target {
            key: key.into(),
            name: "Prime Minister".into(),
            title: None,
            salutation: None,
            email: email.into(),
            organisation: None,
            district: None,
            party: None,
            language: None,
        }
    }

    #[tokio::test]
    async fn letters_find_their_targets_in_the_cache_and_local_edits_show_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}", dir.path().join("t.db").display())).await.unwrap();
        db.migrate().await.unwrap();
        let keys = ["pm".to_string(), "nobody".to_string()];
        save(&db, &target("pm", "pm@example.org")).await.unwrap();
        let found = find_by_keys(&db, &keys).await.unwrap();
        assert_eq!(found, [target("pm", "pm@example.org")], "unknown keys are skipped");

        // Written behind the cache's back (as another node would): the copy is served.
        on_writer!(db, pool => sqlx::query("update targets set email = 'other@example.org'").execute(pool).await.map(|_| ()))
            .unwrap();
        assert_eq!(find_by_keys(&db, &keys).await.unwrap()[0].email, "pm@example.org");

        // Written here: seen by the very next letter.
        save(&db, &target("pm", "new@example.org")).await.unwrap();
        assert_eq!(find_by_keys(&db, &keys).await.unwrap()[0].email, "new@example.org");
        save(&db, &target("nobody", "nobody@example.org")).await.unwrap();
        assert_eq!(find_by_keys(&db, &keys).await.unwrap().len(), 2, "a key cached as unknown is found once created");
        assert!(delete(&db, "pm").await.unwrap());
        assert_eq!(find_by_keys(&db, &keys).await.unwrap(), [target("nobody", "nobody@example.org")]);
    }
}
