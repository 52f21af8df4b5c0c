//! The outbox: every email waiting to leave, written with the action it comes from, and
//! claimed by one worker at a time through a lease.

use chrono::{DateTime, Utc};

use crate::db::{Backend, Db, DbError};

/// A message to queue with an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMail {
    pub kind: MailKind,
    pub to_address: String,
    pub to_name: Option<String>,
    /// Display name on the organisation's From address ("Ana Silva via Amnesty").
    pub from_name: Option<String>,
    pub reply_to_address: Option<String>,
    pub reply_to_name: Option<String>,
    pub subject: String,
    /// May contain `{unsubscribe_url}`, filled in when the message is sent.
    pub body: String,
    /// A letter to a target on a page that delivers a daily digest: it waits to be bundled.
    pub for_digest: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    /// A supporter's letter to a target.
    Target,
    /// The thank-you email to the supporter.
    Thanks,
    /// The email asking a supporter to confirm their action (pages that verify senders).
    Confirm,
    /// A target's daily digest of the letters written to them.
    Digest,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::Target => "target",
            MailKind::Thanks => "thanks",
            MailKind::Confirm => "confirm",
            MailKind::Digest => "digest",
        }
    }
}

/// How many of a page's messages are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryCounts {
    pub queued: i64,
    pub waiting_for_digest: i64,
    pub held_for_confirmation: i64,
    pub sent: i64,
    pub failed: i64,
    pub cancelled: i64,
    /// Letters carried by a digest (the digest itself is counted as queued or sent).
    pub digested: i64,
}

/// A message claimed for sending.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutgoingMail {
    pub id: i64,
    pub action_id: Option<i64>,
    pub kind: String,
    pub to_address: String,
    pub to_name: Option<String>,
    pub from_name: Option<String>,
    pub reply_to_address: Option<String>,
    pub reply_to_name: Option<String>,
    pub subject: String,
    pub body: String,
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
}

/// `INSERT` into the outbox's columns, without values.
macro_rules! insert_columns {
    () => {
        "insert into outbox (action_id, page_id, kind, to_address, to_name, from_name, reply_to_address, reply_to_name,
            subject, body, status, pending_action_id, attempts, next_attempt_at, created_at)"
    };
}
/// `INSERT` without its row.
macro_rules! insert_into {
    () => {
        concat!(insert_columns!(), " values ")
    };
}
/// One row of `INSERT`, its parameters bound by `bind_mail!`.
macro_rules! insert_row {
    () => {
        "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, $13, $13)"
    };
}
/// `INSERT` without its values, for `INSERT … SELECT`.
pub(crate) const INSERT_COLUMNS: &str = insert_columns!();
pub(crate) const INSERT: &str = concat!(insert_into!(), insert_row!());

/// Binds the parameters of `INSERT`.
macro_rules! bind_mail {
    ($query:expr, $mail:expr, $action_id:expr, $page_id:expr, $status:expr, $pending_id:expr, $now:expr) => {
        $query
            .bind($action_id)
            .bind($page_id)
            .bind($mail.kind.as_str())
            .bind(&$mail.to_address)
            .bind(&$mail.to_name)
            .bind(&$mail.from_name)
            .bind(&$mail.reply_to_address)
            .bind(&$mail.reply_to_name)
            .bind(&$mail.subject)
            .bind(&$mail.body)
            .bind($status)
            .bind($pending_id)
            .bind($now)
    };
}
pub(crate) use bind_mail;

/// A worker's request for up to `limit` due messages, leased to `owner` until `lease_until`.
#[derive(Debug, Clone)]
pub(crate) struct ClaimRequest {
    pub owner: String,
    pub now: DateTime<Utc>,
    pub lease_until: DateTime<Utc>,
    pub limit: i64,
}

/// Claims up to `limit` due messages for `owner` until `lease_until`. A message whose
/// lease has run out (its worker died) can be claimed again.
///
/// On SQLite the claim is made by the group commit's thread, between its transactions, and
/// answered after the log's sync like them (`db::group_commit`): nothing is sent before it
/// is on disk, and the claim never takes the one writing connection away from the actions.
/// (Made on the pool's writing connection with a sync of its own, a claim held it through
/// that sync, and a slow sync of the disk then held every submission behind it: measured,
/// see docs/performance.md.)
pub async fn claim(
    db: &Db,
    owner: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<OutgoingMail>, DbError> {
    match &db.backend {
        Backend::Sqlite { .. } => {
            let request = ClaimRequest { owner: owner.to_string(), now, lease_until, limit };
            crate::db::group_commit::claim(db, request).await
        }
        Backend::Postgres(pool) => {
            // Walk `outbox_due` in its order and stop at `limit`, whatever the planner's
            // statistics say. In a burst they lag behind the queue: PostgreSQL took the few
            // pending messages it expected for the whole queue, read all of them and sorted
            // them on disk, for each claim (measured: 38 ms with 52,000 queued, against 0.7).
            let mut tx = pool.begin().await?;
            sqlx::query("select set_config('enable_sort', 'off', true), set_config('enable_bitmapscan', 'off', true)")
                .execute(&mut *tx)
                .await?;
            // Concurrent workers skip each other's rows instead of waiting for them.
            let claimed = sqlx::query_as(CLAIM_POSTGRES)
                .bind(owner)
                .bind(lease_until)
                .bind(now)
                .bind(limit)
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(claimed)
        }
    }
}

/// SQLite's claim. Oldest due first, in the order of the (status, next_attempt_at, id)
/// index: a long queue costs no sort, and a claim reads only the rows it takes; the update
/// itself finds them by id (`plus`: `Db::not_by_index`). PostgreSQL's is `CLAIM_POSTGRES`.
pub(crate) fn claim_sql(plus: &str) -> String {
    format!(
        "update outbox set lease_owner = $1, lease_until = $2
         where id in (select id from outbox
                      where status = 'pending' and next_attempt_at <= $3 and (lease_until is null or lease_until < $3)
                        and page_id not in (select id from pages where delivery_paused)
                      order by next_attempt_at, id limit $4)
           and {plus}status = 'pending' and (lease_until is null or lease_until < $3)
         returning id, action_id, kind, to_address, to_name, from_name, reply_to_address, reply_to_name, subject,
                   body, attempts, created_at"
    )
}

/// PostgreSQL's claim: the due messages locked first, in a `with` of their own (which
/// PostgreSQL runs once, as it always does for one that locks rows), then updated by id.
const CLAIM_POSTGRES: &str = "with due as (
         select id from outbox
         where status = 'pending' and next_attempt_at <= $3 and (lease_until is null or lease_until < $3)
           and page_id not in (select id from pages where delivery_paused)
         order by next_attempt_at, id limit $4 for update skip locked)
     update outbox set lease_owner = $1, lease_until = $2
     from due
     where outbox.id = due.id
     returning outbox.id, action_id, kind, to_address, to_name, from_name, reply_to_address, reply_to_name, subject,
               body, attempts, created_at";

/// Marks messages sent; the caller adds the time they were sent and which (`where`:
/// pending messages whose owner still holds them).
pub(crate) const MARK_SENT: &str = "update outbox set status = 'sent', attempts = attempts + 1, lease_owner = null,
            lease_until = null, last_error = null, sent_at = ";

/// Records a delivery, if `owner` still holds the message. Returns once committed; writes
/// made at the same moment share one commit (`db::group_commit`), whose time is `sent_at`.
pub async fn mark_sent(db: &Db, id: i64, owner: &str) -> Result<bool, DbError> {
    let mark = crate::db::group_commit::SentMark { id, owner: owner.to_string() };
    crate::db::group_commit::mark_sent(db, mark).await
}

/// Records a failed attempt: retried at `retry_at`, or failed for good when `None`.
pub async fn mark_attempt_failed(
    db: &Db,
    id: i64,
    owner: &str,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
) -> Result<(), DbError> {
    let status = if retry_at.is_some() { "pending" } else { "failed" };
    on_writer!(db, pool => sqlx::query(
        "update outbox set status = $1, attempts = attempts + 1, next_attempt_at = coalesce($2, next_attempt_at),
                last_error = $3, lease_owner = null, lease_until = null
         where id = $4 and lease_owner = $5")
        .bind(status).bind(retry_at).bind(error).bind(id).bind(owner).execute(pool).await.map(|_| ()))?;
    Ok(())
}

/// How many messages are in each state: `(pending, sent, failed)`.
pub async fn counts(db: &Db) -> Result<(i64, i64, i64), DbError> {
    let rows: Vec<(String, i64)> = on_reader!(db, pool => sqlx::query_as(
        "select status, count(*) from outbox group by status").fetch_all(pool).await)?;
    let of = |status: &str| rows.iter().find(|(s, _)| s == status).map(|(_, n)| *n).unwrap_or(0);
    Ok((of("pending"), of("sent"), of("failed")))
}

/// Holds or releases the page's outgoing email.
pub async fn set_paused(db: &Db, page_id: i64, paused: bool) -> Result<(), DbError> {
    on_writer!(db, pool => sqlx::query("update pages set delivery_paused = $1 where id = $2")
        .bind(paused).bind(page_id).execute(pool).await.map(|_| ()))?;
    db.cache.pages_changed();
    Ok(())
}

/// Cancels the page's messages not sent yet; returns how many.
pub async fn cancel_pending(db: &Db, page_id: i64) -> Result<u64, DbError> {
    Ok(on_writer!(db, pool => sqlx::query(
        "update outbox set status = 'cancelled', lease_owner = null, lease_until = null
         where page_id = $1 and status in ('pending', 'waiting')")
        .bind(page_id).execute(pool).await.map(|r| r.rows_affected()))?)
}

/// A page's delivery: whether it is paused, and how many of its messages are in each state.
pub async fn page_delivery(db: &Db, page_id: i64) -> Result<(bool, DeliveryCounts), DbError> {
    let paused: bool = on_reader!(db, pool => sqlx::query_scalar("select delivery_paused from pages where id = $1")
        .bind(page_id).fetch_one(pool).await)?;
    let rows: Vec<(String, i64)> = on_reader!(db, pool => sqlx::query_as(
        "select status, count(*) from outbox where page_id = $1 group by status").bind(page_id).fetch_all(pool).await)?;
    let of = |status: &str| rows.iter().find(|(s, _)| s == status).map(|(_, n)| *n).unwrap_or(0);
    let counts = DeliveryCounts {
        queued: of("pending"),
        waiting_for_digest: of("waiting"),
        held_for_confirmation: of("held"),
        sent: of("sent"),
        failed: of("failed"),
        cancelled: of("cancelled"),
        digested: of("digested"),
    };
    Ok((paused, counts))
}

/// A letter waiting in the outbox for its target's digest.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WaitingLetter {
    pub id: i64,
    pub reply_to_address: Option<String>,
    pub reply_to_name: Option<String>,
    pub subject: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// The pages and targets with letters written before `cutoff` waiting for a digest.
pub async fn digests_due(db: &Db, cutoff: DateTime<Utc>) -> Result<Vec<(i64, String)>, DbError> {
    Ok(on_reader!(db, pool => sqlx::query_as(
        "select distinct page_id, to_address from outbox where status = 'waiting' and next_attempt_at < $1")
        .bind(cutoff).fetch_all(pool).await)?)
}

/// Bundles up to `limit` of the letters to `to_address` on the page written before `cutoff`
/// into one digest, composed by `compose`, in one transaction: the digest is queued and the
/// letters marked as carried by it. Returns how many letters went in (0: none left).
pub async fn bundle_digest(
    db: &Db,
    page_id: i64,
    to_address: &str,
    cutoff: DateTime<Utc>,
    limit: i64,
    compose: impl Fn(&[WaitingLetter]) -> NewMail,
) -> Result<usize, DbError> {
    let now = Utc::now();
    let bundled = on_writer!(db, pool => {
        let mut tx = pool.begin().await?;
        let letters: Vec<WaitingLetter> = sqlx::query_as(
            "select id, reply_to_address, reply_to_name, subject, body, created_at from outbox
             where page_id = $1 and to_address = $2 and status = 'waiting' and next_attempt_at < $3
             order by id limit $4")
            .bind(page_id).bind(to_address).bind(cutoff).bind(limit).fetch_all(&mut *tx).await?;
        let Some(last) = letters.last().map(|l| l.id) else {
            tx.rollback().await?;
            return Ok(0);
        };
        let digest = compose(&letters);
        let digest_id: i64 = bind_mail!(sqlx::query_scalar(&format!("{INSERT} returning id")), digest, None::<i64>,
            page_id, "pending", None::<i64>, now)
            .fetch_one(&mut *tx).await?;
        let marked = sqlx::query(
            "update outbox set status = 'digested', digest_id = $1
             where page_id = $2 and to_address = $3 and status = 'waiting' and next_attempt_at < $4 and id <= $5")
            .bind(digest_id).bind(page_id).bind(to_address).bind(cutoff).bind(last)
            .execute(&mut *tx).await?.rows_affected();
        if marked != letters.len() as u64 {
            // Another node bundled some of these meanwhile: leave it to them.
            tx.rollback().await?;
            return Ok(0);
        }
        tx.commit().await?;
        letters.len()
    });
    Ok(bundled)
}
