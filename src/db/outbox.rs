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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    /// A supporter's letter to a target.
    Target,
    /// The thank-you email to the supporter.
    Thanks,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::Target => "target",
            MailKind::Thanks => "thanks",
        }
    }
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

pub(crate) const INSERT: &str = "insert into outbox (action_id, page_id, kind, to_address, to_name, from_name,
        reply_to_address, reply_to_name, subject, body, status, attempts, next_attempt_at, created_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', 0, $11, $11)";

/// Claims up to `limit` due messages for `owner` until `lease_until`. A message whose
/// lease has run out (its worker died) can be claimed again.
pub async fn claim(
    db: &Db,
    owner: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<OutgoingMail>, DbError> {
    let lock = match db.backend {
        Backend::Sqlite { .. } => "",
        // Concurrent workers skip each other's rows instead of waiting for them.
        Backend::Postgres(_) => "for update skip locked",
    };
    let sql = format!(
        "update outbox set lease_owner = $1, lease_until = $2
         where id in (select id from outbox
                      where status = 'pending' and next_attempt_at <= $3 and (lease_until is null or lease_until < $3)
                        and page_id not in (select id from pages where delivery_paused)
                      order by id limit $4 {lock})
           and status = 'pending' and (lease_until is null or lease_until < $3)
         returning id, action_id, kind, to_address, to_name, from_name, reply_to_address, reply_to_name, subject, body,
                   attempts, created_at"
    );
    Ok(
        on_writer!(db, pool => sqlx::query_as(&sql).bind(owner).bind(lease_until).bind(now).bind(limit).fetch_all(pool).await)?,
    )
}

/// Records a delivery, if `owner` still holds the message.
pub async fn mark_sent(db: &Db, id: i64, owner: &str, now: DateTime<Utc>) -> Result<bool, DbError> {
    let done = on_writer!(db, pool => sqlx::query(
        "update outbox set status = 'sent', sent_at = $1, attempts = attempts + 1, lease_owner = null, lease_until = null,
                last_error = null
         where id = $2 and lease_owner = $3 and status = 'pending'")
        .bind(now).bind(id).bind(owner).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(done > 0)
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
    Ok(())
}

/// Cancels the page's messages not sent yet; returns how many.
pub async fn cancel_pending(db: &Db, page_id: i64) -> Result<u64, DbError> {
    Ok(on_writer!(db, pool => sqlx::query(
        "update outbox set status = 'cancelled', lease_owner = null, lease_until = null where page_id = $1 and status = 'pending'")
        .bind(page_id).execute(pool).await.map(|r| r.rows_affected()))?)
}

/// A page's delivery: whether it is paused, and its messages waiting, sent, failed and cancelled.
pub async fn page_delivery(db: &Db, page_id: i64) -> Result<(bool, [i64; 4]), DbError> {
    let paused: bool = on_reader!(db, pool => sqlx::query_scalar("select delivery_paused from pages where id = $1")
        .bind(page_id).fetch_one(pool).await)?;
    let rows: Vec<(String, i64)> = on_reader!(db, pool => sqlx::query_as(
        "select status, count(*) from outbox where page_id = $1 group by status").bind(page_id).fetch_all(pool).await)?;
    let of = |status: &str| rows.iter().find(|(s, _)| s == status).map(|(_, n)| *n).unwrap_or(0);
    Ok((paused, [of("pending"), of("sent"), of("failed"), of("cancelled")]))
}
