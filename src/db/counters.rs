//! Counter figures, read from the per-page counts kept beside the actions, so that a
//! counter costs a few index lookups however many actions there are.

use crate::db::{Db, DbError};
use crate::domain::counter::ActionCounter;
use crate::domain::page::PageStatus;

/// A page's counter and whether the page is public.
#[derive(Debug, Clone, Copy)]
pub struct PageCounter {
    pub status: PageStatus,
    pub counter: ActionCounter,
}

#[derive(sqlx::FromRow)]
struct CounterRow {
    status: String,
    actions: i64,
    counter_offset: i64,
    counter_goal: Option<i64>,
}

/// The counter of the page `slug`, in the scope its counter block sets (the page, or
/// every page of its campaign), in one query.
pub async fn for_page(db: &Db, slug: &str) -> Result<Option<PageCounter>, DbError> {
    let sql = "
        select p.status,
               case when p.counter_scope = 'campaign'
                    then (select cast(coalesce(sum(n.actions), 0) as bigint)
                          from action_counts n join pages q on q.id = n.page_id
                          where q.campaign_id = p.campaign_id)
                    else (select cast(coalesce(sum(n.actions), 0) as bigint)
                          from action_counts n where n.page_id = p.id)
               end as actions,
               case when p.counter_scope = 'campaign' then c.counter_offset else p.counter_offset end as counter_offset,
               case when p.counter_scope = 'campaign' then c.counter_goal else p.counter_goal end as counter_goal
        from pages p join campaigns c on c.id = p.campaign_id
        where p.slug = $1";
    let row: Option<CounterRow> = on_reader!(db, pool => sqlx::query_as(sql).bind(slug).fetch_optional(pool).await)?;
    row.map(|row| {
        let status = PageStatus::parse(&row.status)
            .ok_or_else(|| DbError::Corrupt(format!("page {slug}: status {:?}", row.status)))?;
        Ok(PageCounter {
            status,
            counter: ActionCounter { actions: row.actions, offset: row.counter_offset, goal: row.counter_goal },
        })
    })
    .transpose()
}

/// `for_page` through the process's short-lived cache (see `db::cache`).
pub async fn for_page_cached(db: &Db, slug: &str) -> Result<Option<PageCounter>, DbError> {
    if let Some(counter) = db.cache.counter(slug) {
        return Ok(counter);
    }
    let ticket = db.cache.counter_ticket();
    let counter = for_page(db, slug).await?;
    db.cache.put_counter(slug, ticket, counter);
    Ok(counter)
}

/// Counted actions on one page, whatever its counter's scope.
pub async fn page_actions(db: &Db, page_id: i64) -> Result<i64, DbError> {
    Ok(on_reader!(db, pool => sqlx::query_scalar(
        "select cast(coalesce(sum(actions), 0) as bigint) from action_counts where page_id = $1")
        .bind(page_id).fetch_one(pool).await)?)
}
