//! Actions taken on pages.

use chrono::{DateTime, Utc};

use crate::db::{Db, DbError};
use crate::domain::action::{ActionDraft, Tracking};

/// An action as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredAction {
    pub id: i64,
    pub page_id: i64,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    pub consent: bool,
    pub consent_text: Option<String>,
    pub subject: Option<String>,
    pub message: Option<String>,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub utm_content: Option<String>,
    pub utm_term: Option<String>,
    pub referrer: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Stores the action and counts it, in one transaction. Returns `None`, changing nothing,
/// when this email address has already acted on this page.
pub async fn insert_counted(
    db: &Db,
    page_id: i64,
    draft: &ActionDraft,
    tracking: &Tracking,
) -> Result<Option<i64>, DbError> {
    let now = Utc::now();
    let shard = db.counter_shard();
    let (subject, message) = match &draft.letter {
        Some(letter) => (Some(letter.subject.as_str()), Some(letter.body.as_str())),
        None => (None, None),
    };
    let id = on_writer!(db, pool => {
        let mut tx = pool.begin().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "insert into actions (page_id, email, first_name, last_name, postal_code, country, consent, consent_text,
                                  subject, message, utm_source, utm_medium, utm_campaign, utm_content, utm_term,
                                  referrer, created_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
             on conflict (page_id, email) do nothing
             returning id",
        )
        .bind(page_id)
        .bind(draft.email.as_str())
        .bind(draft.first_name.as_deref())
        .bind(draft.last_name.as_deref())
        .bind(draft.postal_code.as_ref().map(|p| p.as_str()))
        .bind(draft.country.map(|c| c.code()))
        .bind(draft.consent)
        .bind(draft.consent_text.as_deref())
        .bind(subject)
        .bind(message)
        .bind(tracking.utm_source.as_deref())
        .bind(tracking.utm_medium.as_deref())
        .bind(tracking.utm_campaign.as_deref())
        .bind(tracking.utm_content.as_deref())
        .bind(tracking.utm_term.as_deref())
        .bind(tracking.referrer.as_deref())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if id.is_some() {
            sqlx::query(
                "insert into action_counts (page_id, shard, actions, created_at) values ($1, $2, 1, $3)
                 on conflict (page_id, shard) do update set actions = action_counts.actions + 1",
            )
            .bind(page_id)
            .bind(shard)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        id
    });
    Ok(id)
}

/// The actions of a page, oldest first.
pub async fn list_for_page(db: &Db, page_id: i64) -> Result<Vec<StoredAction>, DbError> {
    let sql = "select id, page_id, email, first_name, last_name, postal_code, country, consent, consent_text, subject,
                      message, utm_source, utm_medium, utm_campaign, utm_content, utm_term, referrer, created_at
               from actions where page_id = $1 order by id";
    Ok(on_reader!(db, pool => sqlx::query_as(sql).bind(page_id).fetch_all(pool).await)?)
}
