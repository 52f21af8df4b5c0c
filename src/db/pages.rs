//! Campaigns and their pages.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;

use crate::db::{Db, DbError};
use crate::domain::locale::Locale;
use crate::domain::page::{Block, CampaignRef, CounterScope, PageKind, PageSpec, PageStatus};
use crate::domain::slug::Slug;

/// A stored page.
#[derive(Debug, Clone)]
pub struct Page {
    pub id: i64,
    pub campaign_id: i64,
    pub spec: PageSpec,
    pub updated_at: DateTime<Utc>,
}

/// A line of a list of pages.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PageSummary {
    pub slug: String,
    pub title: String,
    pub locale: String,
}

/// The part of a page kept as JSON. The counter's offset and goal live in columns of
/// `pages` or `campaigns` (depending on the counter's scope), so that a campaign's pages
/// share them; the copies inside the blocks are filled in from there when a page is read.
#[derive(Serialize, Deserialize)]
struct PageContent {
    intro: Option<String>,
    share_text: String,
    closing_message: Option<String>,
    blocks: Vec<Block>,
}

#[derive(sqlx::FromRow)]
struct PageRow {
    id: i64,
    campaign_id: i64,
    campaign_slug: String,
    campaign_name: String,
    slug: String,
    locale: String,
    status: String,
    kind: String,
    title: String,
    counter_offset: i64,
    counter_goal: Option<i64>,
    content: Json<PageContent>,
    updated_at: DateTime<Utc>,
}

const SELECT_PAGE: &str = "
    select p.id, p.campaign_id, c.slug as campaign_slug, c.name as campaign_name, p.slug, p.locale,
           p.status, p.kind, p.title,
           case when p.counter_scope = 'campaign' then c.counter_offset else p.counter_offset end as counter_offset,
           case when p.counter_scope = 'campaign' then c.counter_goal else p.counter_goal end as counter_goal,
           p.content, p.updated_at
    from pages p join campaigns c on c.id = p.campaign_id";

impl PageRow {
    fn into_page(self) -> Result<Page, DbError> {
        let corrupt = |what: &str, value: &str| DbError::Corrupt(format!("page {}: {what} {value:?}", self.id));
        let Json(content) = self.content;
        let mut spec = PageSpec {
            slug: Slug::parse(&self.slug).map_err(|_| corrupt("slug", &self.slug))?,
            locale: Locale::parse(&self.locale).ok_or_else(|| corrupt("locale", &self.locale))?,
            status: PageStatus::parse(&self.status).ok_or_else(|| corrupt("status", &self.status))?,
            kind: PageKind::parse(&self.kind).ok_or_else(|| corrupt("kind", &self.kind))?,
            title: self.title,
            intro: content.intro,
            share_text: content.share_text,
            closing_message: content.closing_message,
            campaign: CampaignRef {
                slug: Slug::parse(&self.campaign_slug).map_err(|_| corrupt("campaign slug", &self.campaign_slug))?,
                name: self.campaign_name,
            },
            blocks: content.blocks,
        };
        if let Some(counter) = spec.counter_mut() {
            counter.offset = self.counter_offset;
            counter.goal = self.counter_goal;
        }
        Ok(Page { id: self.id, campaign_id: self.campaign_id, spec, updated_at: self.updated_at })
    }
}

pub async fn find_by_slug(db: &Db, slug: &str) -> Result<Option<Page>, DbError> {
    let sql = format!("{SELECT_PAGE} where p.slug = $1");
    let row: Option<PageRow> = on_reader!(db, pool => sqlx::query_as(&sql).bind(slug).fetch_optional(pool).await)?;
    row.map(PageRow::into_page).transpose()
}

/// `find_by_slug` through the process's short-lived cache (see `db::cache`): for the
/// public side, where every visitor asks for the same few pages.
pub async fn find_by_slug_cached(db: &Db, slug: &str) -> Result<Option<std::sync::Arc<Page>>, DbError> {
    if let Some(page) = db.cache.page(slug) {
        return Ok(page);
    }
    let ticket = db.cache.page_ticket();
    let page = find_by_slug(db, slug).await?.map(std::sync::Arc::new);
    db.cache.put_page(slug, ticket, page.clone());
    Ok(page)
}

pub async fn find_by_id(db: &Db, id: i64) -> Result<Option<Page>, DbError> {
    let sql = format!("{SELECT_PAGE} where p.id = $1");
    let row: Option<PageRow> = on_reader!(db, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?;
    row.map(PageRow::into_page).transpose()
}

/// Live and closed pages, for the site's front page.
pub async fn list_public(db: &Db) -> Result<Vec<PageSummary>, DbError> {
    let sql = "select slug, title, locale from pages where status in ('live', 'closed') order by created_at desc, id desc limit 200";
    Ok(on_reader!(db, pool => sqlx::query_as(sql).fetch_all(pool).await)?)
}

/// Who changed a page and how, kept in its history.
#[derive(Debug, Clone)]
pub struct ChangeNote<'a> {
    pub user_id: Option<i64>,
    pub summary: &'a str,
}

/// Creates the page, or replaces the page with the same slug; creates or renames its
/// campaign; records the new version in the page's history. Returns the stored page and
/// whether it is new. All or nothing.
pub async fn save(db: &Db, spec: &PageSpec, note: ChangeNote<'_>) -> Result<(Page, bool), DbError> {
    let now = Utc::now();
    let (offset, goal) = spec.counter().map(|c| (c.offset, c.goal)).unwrap_or((0, None));
    let scope = spec.counter_scope();
    let mut blocks = spec.blocks.clone();
    for block in &mut blocks {
        if let Block::Counter(counter) = block {
            counter.offset = 0;
            counter.goal = None;
        }
    }
    let content = Json(PageContent {
        intro: spec.intro.clone(),
        share_text: spec.share_text.clone(),
        closing_message: spec.closing_message.clone(),
        blocks,
    });
    let created = on_writer!(db, pool => {
        let mut tx = pool.begin().await?;
        let campaign_id: i64 = sqlx::query_scalar(
            "insert into campaigns (slug, name, created_at, updated_at) values ($1, $2, $3, $3)
             on conflict (slug) do update set name = excluded.name, updated_at = excluded.updated_at
             returning id",
        )
        .bind(spec.campaign.slug.as_str())
        .bind(&spec.campaign.name)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        if scope == CounterScope::Campaign {
            sqlx::query("update campaigns set counter_offset = $1, counter_goal = $2 where id = $3")
                .bind(offset)
                .bind(goal)
                .bind(campaign_id)
                .execute(&mut *tx)
                .await?;
        }
        let (page_offset, page_goal) = if scope == CounterScope::Page { (offset, goal) } else { (0, None) };
        let existing: Option<i64> = sqlx::query_scalar("select id from pages where slug = $1")
            .bind(spec.slug.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let page_id: i64 = sqlx::query_scalar(
            "insert into pages (campaign_id, slug, locale, status, kind, title, counter_scope, counter_offset,
                                counter_goal, content, created_at, updated_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
             on conflict (slug) do update set
                campaign_id = excluded.campaign_id, locale = excluded.locale, status = excluded.status,
                kind = excluded.kind, title = excluded.title, counter_scope = excluded.counter_scope,
                counter_offset = excluded.counter_offset, counter_goal = excluded.counter_goal,
                content = excluded.content, updated_at = excluded.updated_at
             returning id",
        )
        .bind(campaign_id)
        .bind(spec.slug.as_str())
        .bind(spec.locale.as_str())
        .bind(spec.status.as_str())
        .bind(spec.kind.as_str())
        .bind(&spec.title)
        .bind(scope.as_str())
        .bind(page_offset)
        .bind(page_goal)
        .bind(&content)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("insert into page_revisions (page_id, user_id, summary, spec, created_at) values ($1, $2, $3, $4, $5)")
            .bind(page_id)
            .bind(note.user_id)
            .bind(note.summary)
            .bind(Json(spec))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        existing.is_none()
    });
    db.cache.pages_changed();
    let page = find_by_slug(db, spec.slug.as_str())
        .await?
        .ok_or_else(|| DbError::Corrupt(format!("page {} vanished after it was saved", spec.slug)))?;
    Ok((page, created))
}

/// A past version of a page.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Revision {
    pub id: i64,
    pub summary: String,
    pub user_email: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub async fn revisions(db: &Db, page_id: i64) -> Result<Vec<Revision>, DbError> {
    let sql = "select r.id, r.summary, u.email as user_email, r.created_at
               from page_revisions r left join users u on u.id = r.user_id
               where r.page_id = $1 order by r.id desc limit 500";
    Ok(on_reader!(db, pool => sqlx::query_as(sql).bind(page_id).fetch_all(pool).await)?)
}

/// The page as it was in revision `id`.
pub async fn revision_spec(db: &Db, page_id: i64, id: i64) -> Result<Option<PageSpec>, DbError> {
    let row: Option<(Json<PageSpec>,)> = on_reader!(db, pool => sqlx::query_as(
        "select spec from page_revisions where page_id = $1 and id = $2")
        .bind(page_id).bind(id).fetch_optional(pool).await)?;
    Ok(row.map(|(Json(spec),)| spec))
}

/// Every campaign's slug and name, for choosing one.
pub async fn campaigns(db: &Db) -> Result<Vec<(i64, String, String)>, DbError> {
    Ok(
        on_reader!(db, pool => sqlx::query_as("select id, slug, name from campaigns order by name").fetch_all(pool).await)?,
    )
}

/// Every page with its campaign, for the workspace's list.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PageListing {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub locale: String,
    pub status: String,
    pub campaign_id: i64,
    pub campaign_slug: String,
    pub campaign_name: String,
    pub updated_at: DateTime<Utc>,
}

pub async fn list_all(db: &Db) -> Result<Vec<PageListing>, DbError> {
    let sql = "select p.id, p.slug, p.title, p.locale, p.status, p.campaign_id, c.slug as campaign_slug,
                      c.name as campaign_name, p.updated_at
               from pages p join campaigns c on c.id = p.campaign_id
               order by c.name, p.locale, p.slug";
    Ok(on_reader!(db, pool => sqlx::query_as(sql).fetch_all(pool).await)?)
}

/// An organiser's change of a counter's offset or goal, with the reason.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OffsetChange {
    pub scope: String,
    pub old_offset: i64,
    pub new_offset: i64,
    pub old_goal: Option<i64>,
    pub new_goal: Option<i64>,
    pub reason: String,
    pub user_email: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Sets the offset and goal of the page's counter (of its campaign, for campaign-wide
/// counters) and records who did it and why, in one transaction.
pub async fn set_counter(
    db: &Db,
    page: &Page,
    offset: i64,
    goal: Option<i64>,
    reason: &str,
    user_id: i64,
) -> Result<(), DbError> {
    let scope = page.spec.counter_scope();
    let (old_offset, old_goal) = page.spec.counter().map(|c| (c.offset, c.goal)).unwrap_or((0, None));
    let now = Utc::now();
    on_writer!(db, pool => {
        let mut tx = pool.begin().await?;
        let update = match scope {
            CounterScope::Campaign => "update campaigns set counter_offset = $1, counter_goal = $2, updated_at = $3 where id = $4",
            CounterScope::Page => "update pages set counter_offset = $1, counter_goal = $2, updated_at = $3 where id = $4",
        };
        let target = if scope == CounterScope::Campaign { page.campaign_id } else { page.id };
        sqlx::query(update).bind(offset).bind(goal).bind(now).bind(target).execute(&mut *tx).await?;
        sqlx::query(
            "insert into offset_changes (page_id, scope, old_offset, new_offset, old_goal, new_goal, reason, user_id, created_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
            .bind(page.id).bind(scope.as_str()).bind(old_offset).bind(offset).bind(old_goal).bind(goal)
            .bind(reason).bind(user_id).bind(now)
            .execute(&mut *tx).await?;
        tx.commit().await?;
    });
    db.cache.pages_changed();
    Ok(())
}

/// Offset changes of a page, or of every page of a campaign, newest first.
pub async fn offset_changes(db: &Db, scope: crate::db::actions::Scope) -> Result<Vec<OffsetChange>, DbError> {
    use crate::db::actions::Scope;
    let (condition, id) = match scope {
        Scope::Page(id) => ("o.page_id = $1", id),
        Scope::Campaign(id) => ("o.page_id in (select id from pages where campaign_id = $1)", id),
    };
    let sql = format!(
        "select o.scope, o.old_offset, o.new_offset, o.old_goal, o.new_goal, o.reason, u.email as user_email, o.created_at
         from offset_changes o left join users u on u.id = o.user_id where {condition} order by o.id desc limit 200"
    );
    Ok(on_reader!(db, pool => sqlx::query_as(&sql).bind(id).fetch_all(pool).await)?)
}

/// A campaign's id and name, by slug.
pub async fn find_campaign(db: &Db, slug: &str) -> Result<Option<(i64, String)>, DbError> {
    Ok(
        on_reader!(db, pool => sqlx::query_as("select id, name from campaigns where slug = $1").bind(slug).fetch_optional(pool).await)?,
    )
}

/// The pages of a campaign, by slug order.
pub async fn campaign_pages(db: &Db, campaign_id: i64) -> Result<Vec<Page>, DbError> {
    let slugs: Vec<(String,)> = on_reader!(db, pool => sqlx::query_as(
        "select slug from pages where campaign_id = $1 order by locale, slug").bind(campaign_id).fetch_all(pool).await)?;
    let mut pages = Vec::with_capacity(slugs.len());
    for (slug,) in slugs {
        if let Some(page) = find_by_slug(db, &slug).await? {
            pages.push(page);
        }
    }
    Ok(pages)
}
