//! Actions waiting for their supporter to confirm their email address. A pending action is
//! not counted and its letters are held in the outbox; confirming moves it into `actions`,
//! counts it and releases its letters, in one transaction. Unconfirmed ones expire.

use chrono::{DateTime, Utc};

use crate::db::actions::{COUNT_ONE, DRAFT_COLUMNS, bind_draft};
use crate::db::outbox::{INSERT, NewMail, bind_mail};
use crate::db::{Db, DbError};
use crate::domain::action::{ActionDraft, Tracking};

/// What became of a submission on a page that verifies senders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    /// Waiting for confirmation; the confirmation email is queued.
    Created { pending_id: i64 },
    /// This address has already acted (and confirmed) on this page: nothing changed.
    AlreadyTaken,
}

/// Stores the pending action with its letters held and its confirmation email queued, in
/// one transaction. A new submission from the same address replaces an unconfirmed one
/// (and its link). `confirmation` composes the confirmation email for the new id.
pub async fn insert(
    db: &Db,
    page_id: i64,
    draft: &ActionDraft,
    tracking: &Tracking,
    expires_at: DateTime<Utc>,
    held: &[NewMail],
    confirmation: impl Fn(i64) -> NewMail,
) -> Result<Pending, DbError> {
    let now = Utc::now();
    let insert = format!(
        "insert into pending_actions ({DRAFT_COLUMNS}, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
         returning id"
    );
    let outcome = on_writer!(db, pool => {
        let mut tx = pool.begin().await?;
        let taken: Option<i64> = sqlx::query_scalar("select id from actions where page_id = $1 and email = $2")
            .bind(page_id).bind(draft.email.as_str()).fetch_optional(&mut *tx).await?;
        if taken.is_some() {
            tx.rollback().await?;
            return Ok(Pending::AlreadyTaken);
        }
        let earlier = "select id from pending_actions where page_id = $1 and email = $2";
        // By the pending action's index, not by reading every held letter (`not_by_index`).
        let plus = db.not_by_index();
        sqlx::query(&format!("delete from outbox where {plus}status = 'held' and pending_action_id in ({earlier})"))
            .bind(page_id).bind(draft.email.as_str()).execute(&mut *tx).await?;
        sqlx::query("delete from pending_actions where page_id = $1 and email = $2")
            .bind(page_id).bind(draft.email.as_str()).execute(&mut *tx).await?;
        let pending_id: i64 = bind_draft!(sqlx::query_scalar(&insert), page_id, draft, tracking, now)
            .bind(expires_at)
            .fetch_one(&mut *tx)
            .await?;
        for mail in held {
            bind_mail!(sqlx::query(INSERT), mail, None::<i64>, page_id, "held", Some(pending_id), now)
                .execute(&mut *tx).await?;
        }
        let confirm = confirmation(pending_id);
        bind_mail!(sqlx::query(INSERT), confirm, None::<i64>, page_id, "pending", Some(pending_id), now)
            .execute(&mut *tx).await?;
        tx.commit().await?;
        Pending::Created { pending_id }
    });
    Ok(outcome)
}

/// A pending action, as its confirmation page shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PendingAction {
    pub id: i64,
    pub page_id: i64,
    pub email: String,
    pub first_name: Option<String>,
    pub expires_at: DateTime<Utc>,
}

pub async fn find(db: &Db, id: i64) -> Result<Option<PendingAction>, DbError> {
    Ok(on_reader!(db, pool => sqlx::query_as(
        "select id, page_id, email, first_name, expires_at from pending_actions where id = $1")
        .bind(id).fetch_optional(pool).await)?)
}

/// What confirming did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmed {
    /// Now an action: counted, and its letters released.
    Action { action_id: i64, page_id: i64 },
    /// The address had meanwhile acted on the page: the pending copy is dropped.
    AlreadyTaken { page_id: i64 },
    /// Expired (not yet purged): nothing changed.
    Expired { page_id: i64 },
    /// No such pending action: confirmed already, replaced or purged.
    Unknown,
}

/// Confirms the pending action: in one transaction it becomes an action, is counted, and its
/// held emails are released (target letters wait for the digest when `digest`).
pub async fn confirm(db: &Db, pending_id: i64, digest: bool, now: DateTime<Utc>) -> Result<Confirmed, DbError> {
    let shard = db.counter_shard();
    let copy = format!(
        "insert into actions ({DRAFT_COLUMNS}) select {DRAFT_COLUMNS} from pending_actions where id = $1
         on conflict (page_id, email) do nothing returning id"
    );
    let outcome = on_writer!(db, pool => {
        let mut tx = pool.begin().await?;
        let row: Option<(i64, DateTime<Utc>)> =
            sqlx::query_as("select page_id, expires_at from pending_actions where id = $1")
                .bind(pending_id).fetch_optional(&mut *tx).await?;
        let Some((page_id, expires_at)) = row else {
            tx.rollback().await?;
            return Ok(Confirmed::Unknown);
        };
        if expires_at <= now {
            tx.rollback().await?;
            return Ok(Confirmed::Expired { page_id });
        }
        let action_id: Option<i64> = sqlx::query_scalar(&copy).bind(pending_id).fetch_optional(&mut *tx).await?;
        let outcome = match action_id {
            Some(action_id) => {
                sqlx::query(COUNT_ONE).bind(page_id).bind(shard).bind(now).execute(&mut *tx).await?;
                sqlx::query(
                    "update outbox set action_id = $1,
                            status = case when kind = 'target' and $2 then 'waiting' else 'pending' end,
                            next_attempt_at = $3
                     where pending_action_id = $4 and status = 'held'")
                    .bind(action_id).bind(digest).bind(now).bind(pending_id).execute(&mut *tx).await?;
                Confirmed::Action { action_id, page_id }
            }
            None => {
                sqlx::query("delete from outbox where pending_action_id = $1 and status = 'held'")
                    .bind(pending_id).execute(&mut *tx).await?;
                Confirmed::AlreadyTaken { page_id }
            }
        };
        sqlx::query("delete from pending_actions where id = $1").bind(pending_id).execute(&mut *tx).await?;
        tx.commit().await?;
        outcome
    });
    db.cache.counts_changed();
    Ok(outcome)
}

/// Deletes pending actions that expired before `now`, with their held letters and any
/// confirmation email still unsent; returns how many went.
pub async fn purge_expired(db: &Db, now: DateTime<Utc>) -> Result<u64, DbError> {
    let purged = on_writer!(db, pool => {
        let mut tx = pool.begin().await?;
        let expired = "select id from pending_actions where expires_at < $1";
        // By the pending actions' index, not by reading every held or pending message.
        let plus = db.not_by_index();
        sqlx::query(&format!("delete from outbox where {plus}status = 'held' and pending_action_id in ({expired})"))
            .bind(now).execute(&mut *tx).await?;
        sqlx::query(&format!(
            "update outbox set status = 'cancelled', lease_owner = null, lease_until = null
             where kind = 'confirm' and {plus}status = 'pending' and pending_action_id in ({expired})"))
            .bind(now).execute(&mut *tx).await?;
        let purged = sqlx::query("delete from pending_actions where expires_at < $1")
            .bind(now).execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        purged
    });
    Ok(purged)
}

/// How many actions wait for confirmation on a page.
pub async fn count_for_page(db: &Db, page_id: i64) -> Result<i64, DbError> {
    Ok(on_reader!(db, pool => sqlx::query_scalar("select count(*) from pending_actions where page_id = $1")
        .bind(page_id).fetch_one(pool).await)?)
}
