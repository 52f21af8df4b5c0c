//! Page views per page and hour, for conversion figures.

use chrono::{DateTime, Utc};

use crate::db::{Db, DbError};

/// Adds `views` to the page's count for the hour starting at `hour`.
pub async fn add(db: &Db, page_id: i64, hour: DateTime<Utc>, views: i64) -> Result<(), DbError> {
    on_writer!(db, pool => sqlx::query(
        "insert into page_views (page_id, hour, views, created_at) values ($1, $2, $3, $4)
         on conflict (page_id, hour) do update set views = page_views.views + excluded.views")
        .bind(page_id).bind(hour).bind(views).bind(Utc::now()).execute(pool).await.map(|_| ()))?;
    Ok(())
}

pub async fn total(db: &Db, page_id: i64) -> Result<i64, DbError> {
    Ok(on_reader!(db, pool => sqlx::query_scalar(
        "select cast(coalesce(sum(views), 0) as bigint) from page_views where page_id = $1")
        .bind(page_id).fetch_one(pool).await)?)
}
