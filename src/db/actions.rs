//! Actions taken on pages.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::db::group_commit::SentMark;
use crate::db::outbox::{ClaimRequest, NewMail, OutgoingMail};
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

/// The columns a supporter's action fills, shared by `actions` and `pending_actions`.
pub(crate) const DRAFT_COLUMNS: &str = "page_id, email, first_name, last_name, postal_code, country, consent,
    consent_text, subject, message, utm_source, utm_medium, utm_campaign, utm_content, utm_term, referrer, created_at";

/// Binds `$1..$17` of an insert into `DRAFT_COLUMNS`.
macro_rules! bind_draft {
    ($query:expr, $page_id:expr, $draft:expr, $tracking:expr, $now:expr) => {{
        let (subject, message) = match &$draft.letter {
            Some(letter) => (Some(letter.subject.as_str()), Some(letter.body.as_str())),
            None => (None, None),
        };
        $query
            .bind($page_id)
            .bind($draft.email.as_str())
            .bind($draft.first_name.as_deref())
            .bind($draft.last_name.as_deref())
            .bind($draft.postal_code.as_ref().map(|p| p.as_str()))
            .bind($draft.country.map(|c| c.code()))
            .bind($draft.consent)
            .bind($draft.consent_text.as_deref())
            .bind(subject)
            .bind(message)
            .bind($tracking.utm_source.as_deref())
            .bind($tracking.utm_medium.as_deref())
            .bind($tracking.utm_campaign.as_deref())
            .bind($tracking.utm_content.as_deref())
            .bind($tracking.utm_term.as_deref())
            .bind($tracking.referrer.as_deref())
            .bind($now)
    }};
}
pub(crate) use bind_draft;

/// Adds one to the page's count, inside the caller's transaction.
pub(crate) const COUNT_ONE: &str =
    "insert into action_counts (page_id, shard, actions, created_at) values ($1, $2, 1, $3)
     on conflict (page_id, shard) do update set actions = action_counts.actions + 1";

/// Stores the action, counts it and queues its emails, in one transaction. Returns `None`,
/// changing nothing, when this email address has already acted on this page.
///
/// Actions submitted at the same moment share that transaction (group commit, see
/// `db::group_commit`): one write to disk acknowledges them all. It returns only once
/// the action is committed.
pub async fn insert_counted(
    db: &Db,
    page_id: i64,
    draft: ActionDraft,
    tracking: Tracking,
    mails: Vec<NewMail>,
) -> Result<Option<i64>, DbError> {
    let action = NewAction { page_id, draft, tracking, mails };
    crate::db::group_commit::submit(db, action).await
}

/// An action to store, with its emails.
#[derive(Debug, Clone)]
pub(crate) struct NewAction {
    pub page_id: i64,
    pub draft: ActionDraft,
    pub tracking: Tracking,
    pub mails: Vec<NewMail>,
}

/// Adds `$4` to a page's count, inside the caller's transaction.
const COUNT_MANY: &str = "insert into action_counts (page_id, shard, actions, created_at) values ($1, $2, $4, $3)
     on conflict (page_id, shard) do update set actions = action_counts.actions + excluded.actions";

/// What a batch wrote: the id of each action in the order of the batch, `None` for an email
/// address that had already acted on the page (earlier, or earlier in the batch); and for
/// each sent mark whether its owner still held the message.
pub(crate) type Written = (Vec<Option<i64>>, Vec<bool>);

/// A batch's actions in (page, email) order, with their places in the batch. Actions go in
/// this order and counts in page order, so that transactions of several nodes on PostgreSQL
/// take their locks in one order and cannot deadlock; the sort is stable, so that of two
/// submissions of one address the first stays first.
fn in_lock_order(actions: &[NewAction]) -> Vec<(usize, &NewAction)> {
    let mut sorted: Vec<(usize, &NewAction)> = actions.iter().enumerate().collect();
    sorted.sort_by(|(_, a), (_, b)| (a.page_id, a.draft.email.as_str()).cmp(&(b.page_id, b.draft.email.as_str())));
    sorted
}

/// A committed batch's outcome, telling the read cache when counts changed.
fn written(
    db: &Db,
    ids: Vec<Option<i64>>,
    counts: &BTreeMap<i64, i64>,
    sent: &[SentMark],
    done: &HashSet<(i64, &str)>,
) -> Written {
    if !counts.is_empty() {
        db.cache.counts_changed();
    }
    (ids, sent.iter().map(|mark| done.contains(&(mark.id, mark.owner.as_str()))).collect())
}

/// Stores `actions` and `sent` marks in `tx`, a transaction the caller has begun on a
/// PostgreSQL connection it holds: each action, its emails, and the count of each page,
/// added to counter `shard`; each delivered message marked sent (see `Written`). Then
/// commits. `committing` is called once the actions, their emails and the counts are
/// written: the marks that follow change only messages committed earlier, which no other
/// committer's statements touch, so the next committer need not wait for them, nor for the
/// commit (and its wait for the disk). On SQLite, `SqliteBatchWriter` does the same.
pub(crate) async fn write_batch_postgres(
    db: &Db,
    mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
    actions: &[NewAction],
    sent: &[SentMark],
    shard: i32,
    committing: impl FnOnce(),
) -> Result<Written, DbError> {
    let now = Utc::now();
    let sorted = in_lock_order(actions);
    let mut ids = vec![None; actions.len()];
    let mut counts: BTreeMap<i64, i64> = BTreeMap::new();
    let stored = postgres::insert_actions(&mut tx, &sorted, now).await?;
    let mails = acknowledge(&sorted, stored, &mut ids, &mut counts);
    postgres::insert_mails_and_counts(&mut tx, &mails, &counts, shard, now).await?;
    committing();
    let done = postgres::mark_sent(&mut tx, sent, now).await?;
    tx.commit().await?;
    Ok(written(db, ids, &counts, sent, &done))
}

/// Binds one of a batch's emails for `outbox::INSERT`: its action, page and status.
macro_rules! bind_batch_mail {
    ($query:expr, $action_id:expr, $page_id:expr, $mail:expr, $now:expr) => {
        crate::db::outbox::bind_mail!($query, $mail, Some($action_id), $page_id, mail_status($mail), None::<i64>, $now)
    };
}

/// The status a new message starts in: a letter for a daily digest waits to be bundled.
fn mail_status(mail: &NewMail) -> &'static str {
    if mail.for_digest { "waiting" } else { "pending" }
}

/// Gives each stored action its id and count, and returns its emails to store: the first
/// of each stored (page, email) in the batch is the one acknowledged as new.
fn acknowledge<'a>(
    sorted: &[(usize, &'a NewAction)],
    mut stored: HashMap<(i64, String), i64>,
    ids: &mut [Option<i64>],
    counts: &mut BTreeMap<i64, i64>,
) -> Vec<(i64, i64, &'a NewMail)> {
    let mut mails = Vec::new();
    for (n, action) in sorted {
        if let Some(id) = stored.remove(&(action.page_id, action.draft.email.as_str().to_string())) {
            ids[*n] = Some(id);
            *counts.entry(action.page_id).or_default() += 1;
            mails.extend(action.mails.iter().map(|mail| (id, action.page_id, mail)));
        }
    }
    mails
}

/// The statements of `write_batch_postgres`. Each table's rows go in as one array per column,
/// spread into rows by `unnest`: one statement per table whatever the batch's size, always
/// the same text, so prepared once per connection and planned once. (Multi-row `VALUES` of
/// sixteen rows took a statement per sixteen rows, each of a shape of its own by the size of
/// the last chunk, and PostgreSQL's time went as much on starting each statement as on
/// inserting; measured.)
mod postgres {
    use std::collections::{BTreeMap, HashMap, HashSet};

    use chrono::{DateTime, Utc};
    use sqlx::{Postgres, Transaction};

    use super::{DRAFT_COLUMNS, NewAction, NewMail, mail_status};
    use crate::db::DbError;
    use crate::db::group_commit::SentMark;

    /// Inserts the actions that are new; returns the id of each by (page, email).
    pub(super) async fn insert_actions(
        tx: &mut Transaction<'_, Postgres>,
        sorted: &[(usize, &NewAction)],
        now: DateTime<Utc>,
    ) -> Result<HashMap<(i64, String), i64>, DbError> {
        let n = sorted.len();
        let mut page_ids = Vec::with_capacity(n);
        let mut emails = Vec::with_capacity(n);
        let mut consents = Vec::with_capacity(n);
        // `$4` to `$16`: first_name, last_name, postal_code, country, consent_text, subject,
        // message, then utm_source, utm_medium, utm_campaign, utm_content, utm_term, referrer.
        let mut texts: [Vec<Option<&str>>; 13] = std::array::from_fn(|_| Vec::with_capacity(n));
        for (_, action) in sorted {
            let (draft, tracking) = (&action.draft, &action.tracking);
            page_ids.push(action.page_id);
            emails.push(draft.email.as_str());
            consents.push(draft.consent);
            let (subject, message) = match &draft.letter {
                Some(letter) => (Some(letter.subject.as_str()), Some(letter.body.as_str())),
                None => (None, None),
            };
            let row = [
                draft.first_name.as_deref(),
                draft.last_name.as_deref(),
                draft.postal_code.as_ref().map(|p| p.as_str()),
                draft.country.map(|c| c.code()),
                draft.consent_text.as_deref(),
                subject,
                message,
                tracking.utm_source.as_deref(),
                tracking.utm_medium.as_deref(),
                tracking.utm_campaign.as_deref(),
                tracking.utm_content.as_deref(),
                tracking.utm_term.as_deref(),
                tracking.referrer.as_deref(),
            ];
            for (column, value) in texts.iter_mut().zip(row) {
                column.push(value);
            }
        }
        let sql = format!(
            "insert into actions ({DRAFT_COLUMNS})
             select page_id, email, first_name, last_name, postal_code, country, consent, consent_text, subject,
                    message, utm_source, utm_medium, utm_campaign, utm_content, utm_term, referrer, $17
             from unnest($1::bigint[], $2::text[], $3::boolean[], $4::text[], $5::text[], $6::text[], $7::text[],
                         $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[],
                         $15::text[], $16::text[])
                  as row (page_id, email, consent, first_name, last_name, postal_code, country, consent_text,
                          subject, message, utm_source, utm_medium, utm_campaign, utm_content, utm_term, referrer)
             on conflict (page_id, email) do nothing
             returning id, page_id, email"
        );
        let mut query = sqlx::query_as::<_, (i64, i64, String)>(&sql).bind(page_ids).bind(emails).bind(consents);
        for column in texts {
            query = query.bind(column);
        }
        let stored = query.bind(now).fetch_all(&mut **tx).await?;
        Ok(stored.into_iter().map(|(id, page_id, email)| ((page_id, email), id)).collect())
    }

    /// Marks delivered messages sent. Returns the messages marked, with the owner that marked
    /// each.
    pub(super) async fn mark_sent<'s>(
        tx: &mut Transaction<'_, Postgres>,
        sent: &'s [SentMark],
        now: DateTime<Utc>,
    ) -> Result<HashSet<(i64, &'s str)>, DbError> {
        let mut by_owner: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
        for mark in sent {
            by_owner.entry(mark.owner.as_str()).or_default().push(mark.id);
        }
        let mut done = HashSet::new();
        // `|| ''`: by their ids, not by reading every pending message's entry in `outbox_due`
        // as well (PostgreSQL did, and combined the two).
        let sql = format!(
            "{}$1 where lease_owner = $2 and status || '' = 'pending' and id = any($3::bigint[]) returning id",
            crate::db::outbox::MARK_SENT
        );
        for (owner, mut marks) in by_owner {
            marks.sort_unstable();
            let marked =
                sqlx::query_scalar::<_, i64>(&sql).bind(now).bind(owner).bind(marks).fetch_all(&mut **tx).await?;
            done.extend(marked.into_iter().map(|id| (id, owner)));
        }
        Ok(done)
    }

    /// Inserts a batch's emails into the outbox and adds to each page's count, in one
    /// statement (a round trip less while the committer holds the queue; the counts in page
    /// order, as `COUNT_MANY` would take them one by one).
    pub(super) async fn insert_mails_and_counts(
        tx: &mut Transaction<'_, Postgres>,
        mails: &[(i64, i64, &NewMail)],
        counts: &BTreeMap<i64, i64>,
        shard: i32,
        now: DateTime<Utc>,
    ) -> Result<(), DbError> {
        if mails.is_empty() && counts.is_empty() {
            return Ok(());
        }
        let n = mails.len();
        let (mut action_ids, mut page_ids) = (Vec::with_capacity(n), Vec::with_capacity(n));
        // `$3` to `$7`: kind, to_address, subject, body, status.
        let mut required: [Vec<&str>; 5] = std::array::from_fn(|_| Vec::with_capacity(n));
        // `$8` to `$11`: to_name, from_name, reply_to_address, reply_to_name.
        let mut optional: [Vec<Option<&str>>; 4] = std::array::from_fn(|_| Vec::with_capacity(n));
        for (action_id, page_id, mail) in mails {
            action_ids.push(*action_id);
            page_ids.push(*page_id);
            let row = [mail.kind.as_str(), mail.to_address.as_str(), &mail.subject, &mail.body, mail_status(mail)];
            for (column, value) in required.iter_mut().zip(row) {
                column.push(value);
            }
            let row = [&mail.to_name, &mail.from_name, &mail.reply_to_address, &mail.reply_to_name];
            for (column, value) in optional.iter_mut().zip(row) {
                column.push(value.as_deref());
            }
        }
        let sql = format!(
            "with counted as (
                 insert into action_counts (page_id, shard, actions, created_at)
                 select page_id, $13, actions, $12 from unnest($14::bigint[], $15::bigint[]) as c (page_id, actions)
                 on conflict (page_id, shard) do update set actions = action_counts.actions + excluded.actions
             )
             {} select action_id, page_id, kind, to_address, to_name, from_name, reply_to_address, reply_to_name,
                       subject, body, status, null, 0, $12, $12
             from unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                         $8::text[], $9::text[], $10::text[], $11::text[])
                  as row (action_id, page_id, kind, to_address, subject, body, status, to_name, from_name,
                          reply_to_address, reply_to_name)",
            crate::db::outbox::INSERT_COLUMNS
        );
        let mut query = sqlx::query(&sql).bind(action_ids).bind(page_ids);
        for column in required {
            query = query.bind(column);
        }
        for column in optional {
            query = query.bind(column);
        }
        let (pages, actions): (Vec<i64>, Vec<i64>) = counts.iter().map(|(page, n)| (*page, *n)).unzip();
        query.bind(now).bind(shard).bind(pages).bind(actions).execute(&mut **tx).await?;
        Ok(())
    }
}

/// SQLite's half of a batch, on a connection of its own that the group commit's thread
/// drives (`db::group_commit`). Its statements run where they are called: through sqlx each
/// was a round trip to the connection's own thread, which under load waited its turn for a
/// core (0.15 to 0.2 ms, measured), and its rows came back one by one over a channel. Here
/// each statement is prepared once and run once per row, which in-process costs a few
/// microseconds.
///
/// Its commits are not synced (`synchronous = NORMAL`, in WAL mode): the group commit syncs
/// the log after them, and only then answers. It writes only while its caller holds the
/// pool's writing connection (`Db::writer`), so that it and the pool's writers never wait on
/// each other's locks.
pub(crate) struct SqliteBatchWriter {
    conn: rusqlite::Connection,
    insert_action: String,
    mark_sent: String,
    claim: String,
}

impl SqliteBatchWriter {
    /// Opens a connection to the SQLite file at `path`, which the pool has created, migrated
    /// and put in WAL mode.
    pub(crate) fn open(path: &std::path::Path) -> Result<Self, DbError> {
        use rusqlite::OpenFlags;
        let conn = rusqlite::Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch("pragma foreign_keys = on; pragma synchronous = normal")?;
        let mode: String = conn.query_row("pragma journal_mode", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(DbError::Unavailable(format!("the SQLite file is in {mode} mode, not WAL")));
        }
        let parameters: Vec<String> = (1..=17).map(|n| format!("${n}")).collect();
        Ok(Self {
            conn,
            // No `returning id`: SQLite runs a `RETURNING` clause as a trigger, and a
            // statement with a trigger keeps a statement journal and a temporary table of
            // its rows: about half the insert's cost, a tenth of this thread's time
            // (measured). The row's id is the
            // connection's last inserted rowid whenever the insert changed a row.
            insert_action: format!(
                "insert into actions ({DRAFT_COLUMNS}) values ({}) on conflict (page_id, email) do nothing",
                parameters.join(", ")
            ),
            // The unary `+` keeps SQLite from reading every pending message by `outbox_due`
            // instead of the one marked by its id (measured: it did).
            mark_sent: format!(
                "{}$1 where id = $2 and lease_owner = $3 and +status = 'pending'",
                crate::db::outbox::MARK_SENT
            ),
            claim: crate::db::outbox::claim_sql("+"),
        })
    }

    /// Claims due messages as `outbox::claim` does, in a transaction of its own, committed
    /// without syncing it: the group commit answers the worker after the log's sync.
    pub(crate) fn claim(&mut self, request: &ClaimRequest) -> Result<Vec<OutgoingMail>, DbError> {
        use rusqlite::TransactionBehavior;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut statement = tx.prepare_cached(&self.claim)?;
        Binder::new(&mut statement)
            .bind(request.owner.as_str())
            .bind(sqlite_time(request.lease_until))
            .bind(sqlite_time(request.now))
            .bind(request.limit)
            .bound()?;
        let mut claimed = Vec::new();
        let mut rows = statement.raw_query();
        while let Some(row) = rows.next()? {
            claimed.push(OutgoingMail {
                id: row.get(0)?,
                action_id: row.get(1)?,
                kind: row.get(2)?,
                to_address: row.get(3)?,
                to_name: row.get(4)?,
                from_name: row.get(5)?,
                reply_to_address: row.get(6)?,
                reply_to_name: row.get(7)?,
                subject: row.get(8)?,
                body: row.get(9)?,
                attempts: row.get(10)?,
                created_at: parse_sqlite_time(&row.get::<_, String>(11)?)?,
            });
        }
        drop(rows);
        drop(statement);
        tx.commit()?;
        Ok(claimed)
    }

    /// Stores `actions` and `sent` marks in one transaction, as `write_batch_postgres`
    /// does, and commits it without syncing it.
    pub(crate) fn write(&mut self, db: &Db, actions: &[NewAction], sent: &[SentMark]) -> Result<Written, DbError> {
        use rusqlite::TransactionBehavior;
        let now = sqlite_time(Utc::now());
        let now = now.as_str();
        let sorted = in_lock_order(actions);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut stored = HashMap::with_capacity(sorted.len());
        let mut insert = tx.prepare_cached(&self.insert_action)?;
        for (_, action) in &sorted {
            bind_draft!(Binder::new(&mut insert), action.page_id, action.draft, action.tracking, now).bound()?;
            if insert.raw_execute()? == 1 {
                stored.insert((action.page_id, action.draft.email.as_str().to_string()), tx.last_insert_rowid());
            }
        }
        drop(insert);
        let mut ids = vec![None; actions.len()];
        let mut counts: BTreeMap<i64, i64> = BTreeMap::new();
        let mails = acknowledge(&sorted, stored, &mut ids, &mut counts);
        let mut insert = tx.prepare_cached(crate::db::outbox::INSERT)?;
        for (action_id, page_id, mail) in &mails {
            bind_batch_mail!(Binder::new(&mut insert), *action_id, *page_id, mail, now).bound()?;
            insert.raw_execute()?;
        }
        drop(insert);
        let mut count = tx.prepare_cached(COUNT_MANY)?;
        for (page_id, actions) in &counts {
            count.execute(rusqlite::named_params! {
                "$1": page_id, "$2": db.counter_shard(), "$3": now, "$4": actions,
            })?;
        }
        drop(count);
        let mut done = HashSet::new();
        let mut mark = tx.prepare_cached(&self.mark_sent)?;
        for sent in sent {
            Binder::new(&mut mark).bind(now).bind(sent.id).bind(sent.owner.as_str()).bound()?;
            if mark.raw_execute()? > 0 {
                done.insert((sent.id, sent.owner.as_str()));
            }
        }
        drop(mark);
        tx.commit()?;
        Ok(written(db, ids, &counts, sent, &done))
    }
}

/// The text sqlx writes for a time into SQLite, so that times compare and sort alike
/// whichever connection wrote them.
fn sqlite_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)
}

/// A time read from SQLite's text: as `sqlite_time` writes it, or as SQLite's own
/// `datetime()` does (taken as UTC).
fn parse_sqlite_time(text: &str) -> Result<DateTime<Utc>, DbError> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").map(|time| time.and_utc()))
        .map_err(|error| DbError::Corrupt(format!("time {text:?}: {error}")))
}

/// Binds a rusqlite statement's parameters in the order they first appear in its text, with
/// the `.bind(value)` calls that bind a sqlx query, so that `bind_draft!` and `bind_mail!`
/// name the columns' values once for both.
struct Binder<'s, 'c> {
    statement: &'s mut rusqlite::Statement<'c>,
    bound: usize,
    failed: Option<rusqlite::Error>,
}

impl<'s, 'c> Binder<'s, 'c> {
    fn new(statement: &'s mut rusqlite::Statement<'c>) -> Self {
        Self { statement, bound: 0, failed: None }
    }

    fn bind<T: rusqlite::ToSql>(mut self, value: T) -> Self {
        self.bound += 1;
        if self.failed.is_none()
            && let Err(error) = self.statement.raw_bind_parameter(self.bound, value)
        {
            self.failed = Some(error);
        }
        self
    }

    /// Every parameter bound, or the first error.
    fn bound(self) -> rusqlite::Result<()> {
        let expected = self.statement.parameter_count();
        match self.failed {
            Some(error) => Err(error),
            None if self.bound != expected => Err(rusqlite::Error::InvalidParameterCount(self.bound, expected)),
            None => Ok(()),
        }
    }
}

/// The actions of a page, oldest first.
pub async fn list_for_page(db: &Db, page_id: i64) -> Result<Vec<StoredAction>, DbError> {
    let sql = "select id, page_id, email, first_name, last_name, postal_code, country, consent, consent_text, subject,
                      message, utm_source, utm_medium, utm_campaign, utm_content, utm_term, referrer, created_at
               from actions where page_id = $1 order by id";
    Ok(on_reader!(db, pool => sqlx::query_as(sql).bind(page_id).fetch_all(pool).await)?)
}

/// Which actions a list, an export or a dashboard covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Page(i64),
    Campaign(i64),
}

impl Scope {
    /// A condition on `a.page_id` selecting the scope's actions, with `$1` its id.
    fn condition(self) -> &'static str {
        match self {
            Scope::Page(_) => "a.page_id = $1",
            Scope::Campaign(_) => "a.page_id in (select id from pages where campaign_id = $1)",
        }
    }

    fn id(self) -> i64 {
        match self {
            Scope::Page(id) | Scope::Campaign(id) => id,
        }
    }
}

/// A line of the workspace's list of actions.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ActionListing {
    pub id: i64,
    pub page_slug: String,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub postal_code: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// `%text%` for LIKE, with the text's own wildcards escaped.
fn like_pattern(text: &str) -> String {
    let escaped = text.trim().to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

/// Actions in `scope`, newest first, whose name, email or postal code contains `search`;
/// with the number of all matching actions.
pub async fn search(
    db: &Db,
    scope: Scope,
    search: &str,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ActionListing>, i64), DbError> {
    let pattern = like_pattern(search);
    let matching = format!(
        "{} and ($2 = '%%' or lower(coalesce(a.first_name, '') || ' ' || coalesce(a.last_name, '')) like $2 escape '\\'
              or a.email like $2 escape '\\' or lower(coalesce(a.postal_code, '')) like $2 escape '\\'
              or lower(replace(coalesce(a.postal_code, ''), ' ', '')) like replace($2, ' ', '') escape '\\')",
        scope.condition()
    );
    let list_sql = format!(
        "select a.id, p.slug as page_slug, a.email, a.first_name, a.last_name, a.postal_code, a.created_at
         from actions a join pages p on p.id = a.page_id where {matching} order by a.id desc limit $3 offset $4"
    );
    let count_sql = format!("select count(*) from actions a where {matching}");
    let rows: Vec<ActionListing> = on_reader!(db, pool => sqlx::query_as(&list_sql)
        .bind(scope.id()).bind(&pattern).bind(limit).bind(offset).fetch_all(pool).await)?;
    let total: i64 =
        on_reader!(db, pool => sqlx::query_scalar(&count_sql).bind(scope.id()).bind(&pattern).fetch_one(pool).await)?;
    Ok((rows, total))
}

pub async fn find(db: &Db, id: i64) -> Result<Option<StoredAction>, DbError> {
    let sql = "select id, page_id, email, first_name, last_name, postal_code, country, consent, consent_text, subject,
                      message, utm_source, utm_medium, utm_campaign, utm_content, utm_term, referrer, created_at
               from actions where id = $1";
    Ok(on_reader!(db, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await)?)
}

/// Deletes an action (spam, a test) and takes it off its page's count, in one
/// transaction. Returns the page it was on, or `None` if there was no such action.
pub async fn delete_counted(db: &Db, id: i64) -> Result<Option<i64>, DbError> {
    let page_id = on_writer!(db, pool => {
        let mut tx = pool.begin().await?;
        let page_id: Option<i64> = sqlx::query_scalar("delete from actions where id = $1 returning page_id")
            .bind(id).fetch_optional(&mut *tx).await?;
        if let Some(page_id) = page_id {
            sqlx::query(
                "update action_counts set actions = actions - 1
                 where page_id = $1 and shard = (select min(shard) from action_counts where page_id = $1 and actions > 0)")
                .bind(page_id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        page_id
    });
    db.cache.counts_changed();
    Ok(page_id)
}

/// What an export covers: a campaign, a page, a time range, or all of these.
#[derive(Debug, Clone, Default)]
pub struct ExportFilter {
    pub campaign: Option<String>,
    pub page: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// One row of the CSV export.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExportRow {
    pub id: i64,
    pub campaign: String,
    pub page: String,
    pub kind: String,
    pub created_at: DateTime<Utc>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: String,
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
}

const EXPORT_FILTER: &str = "($1 is null or c.slug = $1) and ($2 is null or p.slug = $2)
      and ($3 is null or a.created_at >= $3) and ($4 is null or a.created_at < $4)";

/// The export's rows with their page and campaign, `$5` being the id to read after and `$6`
/// the batch's size, as SQLite reads them (`ExportCursor` on a database in memory, and
/// `export_sqlite_file`).
fn export_joined_sql() -> String {
    format!(
        "select a.id, c.slug as campaign, p.slug as page, p.kind, a.created_at, a.first_name, a.last_name,
                a.email, a.postal_code, a.country, a.consent, a.consent_text, a.subject, a.message, a.utm_source,
                a.utm_medium, a.utm_campaign, a.utm_content, a.utm_term, a.referrer
         from actions a join pages p on p.id = a.page_id join campaigns c on c.id = p.campaign_id
         where {EXPORT_FILTER} and a.id > $5 order by a.id limit $6"
    )
}

/// Reads an export in batches of rows in id order. Reading in batches keeps memory flat and
/// holds no long read transaction.
pub struct ExportCursor {
    filter: ExportFilter,
    limit: i64,
    /// The id of the last row read.
    after: i64,
    done: bool,
    /// PostgreSQL: the pages the export covers, read once and looked up for each row.
    pages: std::sync::Arc<HashMap<i64, ExportPage>>,
}

/// What an export row shows of its page.
#[derive(Debug)]
pub struct ExportPage {
    campaign: String,
    page: String,
    kind: String,
}

impl ExportCursor {
    pub fn new(filter: ExportFilter, limit: i64) -> Self {
        Self { filter, limit: limit.max(1), after: 0, done: false, pages: Default::default() }
    }

    /// The next batch, or `None` at the end.
    pub async fn next(&mut self, db: &Db) -> Result<Option<ExportBatch>, DbError> {
        if self.done {
            return Ok(None);
        }
        let batch = match &db.backend {
            crate::db::Backend::Sqlite { reader, .. } => self.next_decoded(reader).await?,
            crate::db::Backend::Postgres(pool) => self.next_postgres(pool).await?,
        };
        let last = batch.last_id()?;
        self.done = batch.len() < self.limit as usize;
        match last {
            Some(id) => self.after = id,
            None => return Ok(None),
        }
        Ok(Some(batch))
    }

    async fn next_decoded(&self, pool: &sqlx::SqlitePool) -> Result<ExportBatch, DbError> {
        let filter = &self.filter;
        let rows = sqlx::query_as(&export_joined_sql())
            .bind(filter.campaign.as_deref())
            .bind(filter.page.as_deref())
            .bind(filter.from)
            .bind(filter.until)
            .bind(self.after)
            .bind(self.limit)
            .fetch_all(pool)
            .await?;
        Ok(ExportBatch::Decoded(rows))
    }

    /// On PostgreSQL the actions are read without joining their pages and campaigns: the
    /// join took two thirds of the database's time for each batch (8.4 ms against 2.7 ms for
    /// 5,000 rows, measured), and the few pages are looked up here instead.
    async fn next_postgres(&mut self, pool: &sqlx::PgPool) -> Result<ExportBatch, DbError> {
        let filter = &self.filter;
        let by_page = filter.campaign.is_some() || filter.page.is_some();
        if self.pages.is_empty() {
            self.pages = export_pages(pool, filter).await?;
            if self.pages.is_empty() {
                return Ok(ExportBatch::Decoded(Vec::new()));
            }
        }
        let page_ids: Option<Vec<i64>> = by_page.then(|| self.pages.keys().copied().collect());
        let rows: Vec<sqlx::postgres::PgRow> = sqlx::query(
            "select a.id, a.page_id, a.created_at, a.first_name, a.last_name, a.email, a.postal_code, a.country,
                    a.consent, a.consent_text, a.subject, a.message, a.utm_source, a.utm_medium, a.utm_campaign,
                    a.utm_content, a.utm_term, a.referrer
             from actions a
             where ($1::bigint[] is null or a.page_id = any($1)) and ($2::timestamptz is null or a.created_at >= $2)
               and ($3::timestamptz is null or a.created_at < $3) and a.id > $4
             order by a.id limit $5",
        )
        .bind(page_ids)
        .bind(filter.from)
        .bind(filter.until)
        .bind(self.after)
        .bind(self.limit)
        .fetch_all(pool)
        .await?;
        // Without a filter, a page made since the export began has its actions here too.
        for row in &rows {
            if !self.pages.contains_key(&row.try_get::<i64, _>(1)?) {
                self.pages = export_pages(pool, filter).await?;
                break;
            }
        }
        Ok(ExportBatch::Postgres(rows, self.pages.clone()))
    }
}

/// The pages an export covers, by id.
async fn export_pages(
    pool: &sqlx::PgPool,
    filter: &ExportFilter,
) -> Result<std::sync::Arc<HashMap<i64, ExportPage>>, DbError> {
    let pages: Vec<(i64, String, String, String)> = sqlx::query_as(
        "select p.id, c.slug, p.slug, p.kind from pages p join campaigns c on c.id = p.campaign_id
         where ($1::text is null or c.slug = $1) and ($2::text is null or p.slug = $2)",
    )
    .bind(filter.campaign.as_deref())
    .bind(filter.page.as_deref())
    .fetch_all(pool)
    .await?;
    Ok(std::sync::Arc::new(
        pages.into_iter().map(|(id, campaign, page, kind)| (id, ExportPage { campaign, page, kind })).collect(),
    ))
}

/// A batch of export rows as the database gave them. PostgreSQL's rows stay as received and
/// their cells are borrowed by position: decoding each into an `ExportRow` (sixteen strings,
/// each column found by name) took about a fifth of our side's CPU in a million-row export
/// (measured).
pub enum ExportBatch {
    Decoded(Vec<ExportRow>),
    Postgres(Vec<sqlx::postgres::PgRow>, std::sync::Arc<HashMap<i64, ExportPage>>),
}

impl ExportBatch {
    pub fn len(&self) -> usize {
        match self {
            ExportBatch::Decoded(rows) => rows.len(),
            ExportBatch::Postgres(rows, _) => rows.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Hands each row to `row`, in order.
    pub fn each(&self, mut row: impl FnMut(&ExportCells<'_>) -> Result<(), DbError>) -> Result<(), DbError> {
        match self {
            ExportBatch::Decoded(rows) => rows.iter().try_for_each(|r| row(&r.cells())),
            ExportBatch::Postgres(rows, pages) => {
                rows.iter().enumerate().try_for_each(|(n, r)| row(&postgres_cells(r, pages, n == 0)?))
            }
        }
    }

    /// The id of the last row, where the next batch starts.
    fn last_id(&self) -> Result<Option<i64>, DbError> {
        Ok(match self {
            ExportBatch::Decoded(rows) => rows.last().map(|r| r.id),
            ExportBatch::Postgres(rows, _) => rows.last().map(|r| r.try_get::<i64, _>(0)).transpose()?,
        })
    }
}

/// The cells of an export row read from PostgreSQL, in the order of `next_postgres`'s columns.
/// `checked`: compare each column's type with the one asked for. All rows of a batch have the
/// same types, so the first row's check holds for the rest.
fn postgres_cells<'r>(
    row: &'r sqlx::postgres::PgRow,
    pages: &'r HashMap<i64, ExportPage>,
    checked: bool,
) -> Result<ExportCells<'r>, DbError> {
    fn get<'r, T>(row: &'r sqlx::postgres::PgRow, i: usize, checked: bool) -> Result<T, sqlx::Error>
    where
        T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
    {
        if checked { row.try_get(i) } else { row.try_get_unchecked(i) }
    }
    let text = |i: usize| get::<Option<&str>>(row, i, checked);
    let page_id: i64 = get(row, 1, checked)?;
    let page = pages.get(&page_id).ok_or_else(|| DbError::Corrupt(format!("action of unknown page {page_id}")))?;
    Ok(ExportCells {
        id: get(row, 0, checked)?,
        campaign: &page.campaign,
        page: &page.page,
        kind: &page.kind,
        created_at: get(row, 2, checked)?,
        first_name: text(3)?,
        last_name: text(4)?,
        email: get(row, 5, checked)?,
        postal_code: text(6)?,
        country: text(7)?,
        consent: get(row, 8, checked)?,
        consent_text: text(9)?,
        subject: text(10)?,
        message: text(11)?,
        utm_source: text(12)?,
        utm_medium: text(13)?,
        utm_campaign: text(14)?,
        utm_content: text(15)?,
        utm_term: text(16)?,
        referrer: text(17)?,
    })
}

/// One row of the CSV export, borrowed from wherever it was read.
#[derive(Debug, Clone, Copy)]
pub struct ExportCells<'a> {
    pub id: i64,
    pub campaign: &'a str,
    pub page: &'a str,
    pub kind: &'a str,
    pub created_at: DateTime<Utc>,
    pub first_name: Option<&'a str>,
    pub last_name: Option<&'a str>,
    pub email: &'a str,
    pub postal_code: Option<&'a str>,
    pub country: Option<&'a str>,
    pub consent: bool,
    pub consent_text: Option<&'a str>,
    pub subject: Option<&'a str>,
    pub message: Option<&'a str>,
    pub utm_source: Option<&'a str>,
    pub utm_medium: Option<&'a str>,
    pub utm_campaign: Option<&'a str>,
    pub utm_content: Option<&'a str>,
    pub utm_term: Option<&'a str>,
    pub referrer: Option<&'a str>,
}

impl ExportRow {
    pub fn cells(&self) -> ExportCells<'_> {
        ExportCells {
            id: self.id,
            campaign: &self.campaign,
            page: &self.page,
            kind: &self.kind,
            created_at: self.created_at,
            first_name: self.first_name.as_deref(),
            last_name: self.last_name.as_deref(),
            email: &self.email,
            postal_code: self.postal_code.as_deref(),
            country: self.country.as_deref(),
            consent: self.consent,
            consent_text: self.consent_text.as_deref(),
            subject: self.subject.as_deref(),
            message: self.message.as_deref(),
            utm_source: self.utm_source.as_deref(),
            utm_medium: self.utm_medium.as_deref(),
            utm_campaign: self.utm_campaign.as_deref(),
            utm_content: self.utm_content.as_deref(),
            utm_term: self.utm_term.as_deref(),
            referrer: self.referrer.as_deref(),
        }
    }
}

/// Where `export_sqlite_file` puts the rows it reads.
pub trait ExportSink {
    /// One row, valid for the call.
    fn row(&mut self, cells: &ExportCells<'_>) -> Result<(), DbError>;
    /// The end of a batch of `rows` rows, once its read transaction is over; `false` stops
    /// the export (its reader has gone).
    fn batch_done(&mut self, rows: usize) -> bool;
}

/// The SQLite file behind `db`, which an export can open a connection of its own to; `None`
/// on PostgreSQL.
pub fn export_sqlite_path(db: &Db) -> Option<std::path::PathBuf> {
    let crate::db::Backend::Sqlite { reader, .. } = &db.backend else {
        return None;
    };
    let options = reader.connect_options();
    let path = options.get_filename();
    let name = path.to_string_lossy();
    (!name.is_empty() && !name.starts_with(':') && !name.contains("mode=memory")).then(|| path.to_path_buf())
}

/// Column `i` of an export row read from SQLite, as text.
fn cell<'r>(row: &'r rusqlite::Row<'_>, i: usize) -> Result<Option<&'r str>, DbError> {
    match row.get_ref(i)? {
        rusqlite::types::ValueRef::Null => Ok(None),
        value => Ok(Some(value.as_str().map_err(|e| DbError::Corrupt(format!("export column {i}: {e}")))?)),
    }
}

/// Reads an export from the SQLite file at `path` with a read-only connection of its own,
/// on the calling thread (a blocking one): batches of `limit` rows in id order, each its own
/// short read transaction, each row handed to `sink` as it is read.
///
/// sqlx hands SQLite rows from its connection's thread to the caller value by value, which
/// made a million-row export take 13 s (measured); read here, in place, it takes about
/// two. The rows and their order are those of `ExportCursor`.
pub fn export_sqlite_file(
    path: &std::path::Path,
    filter: &ExportFilter,
    limit: usize,
    sink: &mut dyn ExportSink,
) -> Result<(), DbError> {
    use rusqlite::OpenFlags;
    let connection = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(std::time::Duration::from_secs(5))?;
    let mut statement = connection.prepare(&export_joined_sql())?;
    // As sqlx binds times to SQLite, so that they compare with the stored ones alike.
    let time = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false));
    let (from, until) = (time(filter.from), time(filter.until));
    let mut after = 0_i64;
    loop {
        let mut rows = statement.query(rusqlite::named_params! {
            "$1": filter.campaign, "$2": filter.page, "$3": from, "$4": until, "$5": after, "$6": limit as i64,
        })?;
        let mut count = 0;
        while let Some(row) = rows.next()? {
            let text = |i| cell(row, i);
            let required = |i| cell(row, i)?.ok_or_else(|| DbError::Corrupt(format!("export column {i} is null")));
            let created_at = required(4)?;
            let created_at = DateTime::parse_from_rfc3339(created_at)
                .map_err(|e| DbError::Corrupt(format!("action time {created_at:?}: {e}")))?
                .with_timezone(&Utc);
            after = row.get(0)?;
            sink.row(&ExportCells {
                id: after,
                campaign: required(1)?,
                page: required(2)?,
                kind: required(3)?,
                created_at,
                first_name: text(5)?,
                last_name: text(6)?,
                email: required(7)?,
                postal_code: text(8)?,
                country: text(9)?,
                consent: row.get(10)?,
                consent_text: text(11)?,
                subject: text(12)?,
                message: text(13)?,
                utm_source: text(14)?,
                utm_medium: text(15)?,
                utm_campaign: text(16)?,
                utm_content: text(17)?,
                utm_term: text(18)?,
                referrer: text(19)?,
            })?;
            count += 1;
        }
        drop(rows);
        if !sink.batch_done(count) || count < limit {
            return Ok(());
        }
    }
}

pub async fn export_count(db: &Db, filter: &ExportFilter) -> Result<i64, DbError> {
    let sql = format!(
        "select count(*) from actions a join pages p on p.id = a.page_id join campaigns c on c.id = p.campaign_id
         where {EXPORT_FILTER}"
    );
    Ok(on_reader!(db, pool => sqlx::query_scalar(&sql)
        .bind(filter.campaign.as_deref()).bind(filter.page.as_deref()).bind(filter.from).bind(filter.until)
        .fetch_one(pool).await)?)
}

/// `(label, count)` pairs for a dashboard.
pub type Tally = Vec<(String, i64)>;

/// The most frequent values of `expression` among the scope's actions.
async fn top(db: &Db, scope: Scope, expression: &str, limit: i64) -> Result<Tally, DbError> {
    let sql = format!(
        "select coalesce({expression}, '') as label, count(*) as n from actions a where {} group by 1 order by n desc, label limit $2",
        scope.condition()
    );
    Ok(on_reader!(db, pool => sqlx::query_as(&sql).bind(scope.id()).bind(limit).fetch_all(pool).await)?)
}

/// What a dashboard shows about a scope's actions.
#[derive(Debug, Clone, Default)]
pub struct Breakdown {
    pub per_day: Tally,
    pub per_hour: Tally,
    pub referrers: Tally,
    pub utm_sources: Tally,
    pub countries: Tally,
    pub postal_areas: Tally,
}

pub async fn breakdown(
    db: &Db,
    scope: Scope,
    since_day: DateTime<Utc>,
    since_hour: DateTime<Utc>,
) -> Result<Breakdown, DbError> {
    // Bucketing a timestamp is where the dialects differ: SQLite stores RFC 3339 text.
    let (day, hour) = match &db.backend {
        crate::db::Backend::Sqlite { .. } => ("substr(a.created_at, 1, 10)", "substr(a.created_at, 1, 13)"),
        crate::db::Backend::Postgres(_) => (
            "to_char(a.created_at at time zone 'UTC', 'YYYY-MM-DD')",
            "to_char(a.created_at at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24')",
        ),
    };
    let series = |bucket: &str| {
        format!(
            "select {bucket} as label, count(*) as n from actions a where {} and a.created_at >= $2 group by 1 order by 1",
            scope.condition()
        )
    };
    let (day_sql, hour_sql) = (series(day), series(hour));
    let per_day: Tally =
        on_reader!(db, pool => sqlx::query_as(&day_sql).bind(scope.id()).bind(since_day).fetch_all(pool).await)?;
    let per_hour: Tally =
        on_reader!(db, pool => sqlx::query_as(&hour_sql).bind(scope.id()).bind(since_hour).fetch_all(pool).await)?;
    Ok(Breakdown {
        per_day,
        per_hour,
        referrers: top(db, scope, "a.referrer", 10).await?,
        utm_sources: top(db, scope, "a.utm_source", 10).await?,
        countries: top(db, scope, "a.country", 20).await?,
        postal_areas: top(db, scope, "upper(substr(a.postal_code, 1, 3))", 20).await?,
    })
}

/// Withdraws the consent of the person who took action `id`, on every action of theirs
/// (an unsubscribe). Returns whether there was such an action.
pub async fn withdraw_consent(db: &Db, id: i64) -> Result<bool, DbError> {
    let changed = on_writer!(db, pool => sqlx::query(
        "update actions set consent = false, unsubscribed_at = coalesce(unsubscribed_at, $2)
         where email = (select email from actions where id = $1)")
        .bind(id).bind(Utc::now()).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(changed > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::group_commit::SentMark;
    use crate::db::outbox::MailKind;
    use crate::domain::action::Submission;

    async fn demo_db(dir: &std::path::Path) -> (Db, crate::db::pages::Page) {
        let db = Db::connect(&format!("sqlite://{}", dir.join("t.db").display())).await.unwrap();
        db.migrate().await.unwrap();
        crate::services::demo::load_demo(&db).await.unwrap();
        let page = crate::db::pages::find_by_slug(&db, "dont-abandon-refugees").await.unwrap().unwrap();
        (db, page)
    }

    fn action(page: &crate::db::pages::Page, email: &str) -> NewAction {
        let submission = Submission {
            first_name: "Ana".into(),
            last_name: "Silva".into(),
            email: email.into(),
            postal_code: "K1A 0B1".into(),
            subject: Some("Please act".into()),
            message: Some("People seeking safety deserve a hearing.".into()),
            consent: true,
            ..Default::default()
        };
        let draft = ActionDraft::parse(&submission, page.spec.form().unwrap()).unwrap();
        let mail = NewMail {
            kind: MailKind::Thanks,
            to_address: email.into(),
            to_name: None,
            from_name: None,
            reply_to_address: None,
            reply_to_name: None,
            subject: "Thank you".into(),
            body: "Thank you".into(),
            for_digest: false,
        };
        NewAction { page_id: page.id, draft, tracking: Tracking::default(), mails: vec![mail] }
    }

    #[tokio::test]
    async fn a_batch_stores_each_address_once_and_marks_only_held_messages() {
        let dir = tempfile::tempdir().unwrap();
        let (db, page) = demo_db(dir.path()).await;
        let mut writer = SqliteBatchWriter::open(&dir.path().join("t.db")).unwrap();
        let batch = [action(&page, "b@example.org"), action(&page, "a@example.org"), action(&page, "b@example.org")];
        let (ids, _) = writer.write(&db, &batch, &[]).unwrap();
        assert!(ids[0].is_some() && ids[1].is_some(), "{ids:?}");
        assert_eq!(ids[2], None, "the second submission of an address in one batch is a repeat");
        let stored = list_for_page(&db, page.id).await.unwrap();
        let id_of = |email: &str| stored.iter().find(|a| a.email == email).map(|a| a.id);
        assert_eq!((ids[0], ids[1]), (id_of("b@example.org"), id_of("a@example.org")), "each caller's own id");
        assert_eq!(crate::db::counters::page_actions(&db, page.id).await.unwrap(), 2);
        let (pending, _, _) = crate::db::outbox::counts(&db).await.unwrap();
        assert_eq!(pending, 2, "emails of stored actions only");

        let (again, _) = writer.write(&db, &[action(&page, "a@example.org")], &[]).unwrap();
        assert_eq!(again, [None], "a repeat in a later batch");
        assert_eq!(crate::db::counters::page_actions(&db, page.id).await.unwrap(), 2);

        let now = Utc::now();
        let claimed =
            crate::db::outbox::claim(&db, "worker-a", now, now + chrono::TimeDelta::seconds(60), 10).await.unwrap();
        assert_eq!(claimed.len(), 2);
        let marks = [
            SentMark { id: claimed[0].id, owner: "worker-a".into() },
            SentMark { id: claimed[1].id, owner: "worker-b".into() },
        ];
        let (_, marked) = writer.write(&db, &[], &marks).unwrap();
        assert_eq!(marked, [true, false], "only the lease holder marks a message sent");
        assert_eq!(crate::db::outbox::counts(&db).await.unwrap(), (1, 1, 0));
    }

    #[tokio::test]
    async fn the_committers_claim_leases_due_messages_once_until_the_lease_runs_out() {
        let dir = tempfile::tempdir().unwrap();
        let (db, page) = demo_db(dir.path()).await;
        let mut writer = SqliteBatchWriter::open(&dir.path().join("t.db")).unwrap();
        let before = Utc::now();
        let (ids, _) = writer.write(&db, &[action(&page, "a@example.org")], &[]).unwrap();
        let now = Utc::now();
        let request = |owner: &str, now: DateTime<Utc>| ClaimRequest {
            owner: owner.into(),
            now,
            lease_until: now + chrono::TimeDelta::seconds(60),
            limit: 10,
        };
        let claimed = writer.claim(&request("worker-a", now)).unwrap();
        assert_eq!(claimed.len(), 1);
        let mail = &claimed[0];
        assert_eq!((mail.action_id, mail.kind.as_str(), mail.to_address.as_str()), (ids[0], "thanks", "a@example.org"));
        assert_eq!((mail.subject.as_str(), mail.body.as_str(), mail.attempts), ("Thank you", "Thank you", 0));
        assert!(mail.created_at >= before - chrono::TimeDelta::seconds(1) && mail.created_at <= Utc::now());
        assert!(writer.claim(&request("worker-b", now)).unwrap().is_empty(), "leased to worker-a");
        let later = now + chrono::TimeDelta::seconds(61);
        let again = writer.claim(&request("worker-b", later)).unwrap();
        assert_eq!(again.iter().map(|m| m.id).collect::<Vec<_>>(), [mail.id], "the lease ran out");
        let marks =
            [SentMark { id: mail.id, owner: "worker-a".into() }, SentMark { id: mail.id, owner: "worker-b".into() }];
        let (_, marked) = writer.write(&db, &[], &marks).unwrap();
        assert_eq!(marked, [false, true], "only the worker holding the lease now");
    }

    #[test]
    fn times_are_read_as_either_writer_wrote_them() {
        let written = Utc::now();
        assert_eq!(parse_sqlite_time(&sqlite_time(written)).unwrap(), written);
        let by_sqlite = parse_sqlite_time("2026-12-03 06:17:26").unwrap();
        assert_eq!(by_sqlite.to_rfc3339(), "2026-12-03T06:17:26+00:00");
        assert!(matches!(parse_sqlite_time("yesterday"), Err(DbError::Corrupt(_))));
    }

    #[tokio::test]
    async fn a_batch_is_stored_as_the_pool_would_store_it() {
        let dir = tempfile::tempdir().unwrap();
        let (db, page) = demo_db(dir.path()).await;
        let mut writer = SqliteBatchWriter::open(&dir.path().join("t.db")).unwrap();
        let mut first = action(&page, "a@example.org");
        first.tracking.utm_source = Some("newsletter".into());
        first.draft.country = None;
        let before = Utc::now();
        let (ids, _) = writer.write(&db, &[first.clone()], &[]).unwrap();
        let stored = list_for_page(&db, page.id).await.unwrap();
        assert_eq!(stored.len(), 1);
        let row = &stored[0];
        assert_eq!(Some(row.id), ids[0]);
        assert_eq!((row.email.as_str(), row.first_name.as_deref()), ("a@example.org", Some("Ana")));
        assert_eq!(row.postal_code.as_deref(), first.draft.postal_code.as_ref().map(|p| p.as_str()));
        assert_eq!(row.country, None);
        assert!(row.consent);
        assert_eq!(row.subject.as_deref(), Some("Please act"));
        assert_eq!(row.utm_source.as_deref(), Some("newsletter"));
        // Times are read back as times, in the text sqlx writes, so they compare with those
        // the pool's own writes store.
        assert!(row.created_at >= before && row.created_at <= Utc::now(), "{}", row.created_at);
        let text: String = on_reader!(db, pool => sqlx::query_scalar("select created_at from actions")
            .fetch_one(pool).await)
        .unwrap();
        assert_eq!(text, row.created_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false));
        let queued: (String, i64, String) = on_reader!(db, pool => sqlx::query_as(
            "select kind, action_id, status from outbox")
            .fetch_one(pool).await)
        .unwrap();
        assert_eq!(queued, ("thanks".to_string(), row.id, "pending".to_string()));
    }

    #[tokio::test]
    async fn a_batch_that_fails_leaves_nothing_and_the_writer_works_on() {
        let dir = tempfile::tempdir().unwrap();
        let (db, page) = demo_db(dir.path()).await;
        let mut orphan = action(&page, "c@example.org");
        orphan.page_id = i64::MAX; // no such page: refused by its foreign key, mid-transaction
        let mut writer = SqliteBatchWriter::open(&dir.path().join("t.db")).unwrap();
        let batch = [action(&page, "a@example.org"), orphan];
        assert!(writer.write(&db, &batch, &[]).is_err());
        assert_eq!(crate::db::counters::page_actions(&db, page.id).await.unwrap(), 0);
        assert_eq!(crate::db::outbox::counts(&db).await.unwrap().0, 0);

        // Had the failed transaction stayed open, this would fail to begin.
        let (ids, _) = writer.write(&db, &[action(&page, "a@example.org")], &[]).unwrap();
        assert!(ids[0].is_some(), "the failed batch stored nothing: {ids:?}");
        drop(writer);
        db.close().await;
        let reopened = Db::connect(&format!("sqlite://{}", dir.path().join("t.db").display())).await.unwrap();
        assert_eq!(crate::db::counters::page_actions(&reopened, page.id).await.unwrap(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_bad_write_does_not_fail_the_others_committed_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let (db, page) = demo_db(dir.path()).await;
        // Holding the pool's writing connection keeps the committer waiting, so that the
        // writes queued meanwhile go into one transaction, which the bad one fails.
        let held = db.writer().await.unwrap();
        let mut submitted = Vec::new();
        for n in 0..5 {
            let mut new = action(&page, &format!("s{n}@example.org"));
            if n == 2 {
                new.page_id = i64::MAX; // no such page: refused by its foreign key
            }
            let db = db.clone();
            submitted.push(tokio::spawn(async move { crate::db::group_commit::submit(&db, new).await }));
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        drop(held);
        let mut outcomes = Vec::new();
        for task in submitted {
            outcomes.push(task.await.unwrap());
        }
        assert!(outcomes[2].is_err(), "{outcomes:?}");
        for n in [0, 1, 3, 4] {
            assert!(matches!(outcomes[n], Ok(Some(_))), "write {n}: {outcomes:?}");
        }
        assert_eq!(crate::db::counters::page_actions(&db, page.id).await.unwrap(), 4);
        assert_eq!(crate::db::outbox::counts(&db).await.unwrap().0, 4);
    }

    #[tokio::test]
    async fn the_outbox_checks_its_kinds_and_statuses_without_a_temporary_table() {
        let dir = tempfile::tempdir().unwrap();
        let (db, page) = demo_db(dir.path()).await;
        let insert = |kind: &'static str, status: &'static str| {
            let db = db.clone();
            async move {
                on_writer!(db, pool => sqlx::query(
                    "insert into outbox (page_id, kind, to_address, subject, body, status, next_attempt_at, created_at)
                     values ($1, $2, 'a@example.org', 's', 'b', $3, '2026-12-01', '2026-12-01')")
                    .bind(page.id).bind(kind).bind(status).execute(pool).await.map(|done| done.rows_affected()))
            }
        };
        for kind in ["target", "thanks", "confirm", "digest"] {
            insert(kind, "pending").await.unwrap();
        }
        for status in ["held", "waiting", "pending", "sent", "failed", "cancelled", "digested"] {
            insert("thanks", status).await.unwrap();
        }
        assert!(insert("letter", "pending").await.is_err(), "an unknown kind");
        assert!(insert("thanks", "lost").await.is_err(), "an unknown status");
        // `x in (a, b, c)` built a table of its values for every row written (measured).
        // (A read-only connection leaves the checks out of its program.)
        let program: Vec<(i64, String)> = on_writer!(db, pool => sqlx::query_as(&format!(
            "explain {}", crate::db::outbox::INSERT))
            .fetch_all(pool).await)
        .unwrap();
        assert!(program.iter().all(|(_, opcode)| opcode != "OpenEphemeral"), "{program:?}");
    }

    #[tokio::test]
    async fn a_deleted_message_is_looked_up_among_digests_by_index() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _) = demo_db(dir.path()).await;
        let plan = query_plan(&db, "select id from outbox where digest_id = $1").await;
        assert!(plan.iter().any(|step| step.contains("outbox_digest")), "{plan:?}");
    }

    /// SQLite's plan for `sql`, its one parameter bound to 1: a line per step.
    async fn query_plan(db: &Db, sql: &str) -> Vec<String> {
        let plan: Vec<(i64, i64, i64, String)> =
            on_reader!(db, pool => sqlx::query_as(&format!("explain query plan {sql}"))
            .bind(1).fetch_all(pool).await)
            .unwrap();
        plan.into_iter().map(|step| step.3).collect()
    }

    #[tokio::test]
    async fn messages_without_a_pending_action_or_digest_add_no_index_entry_for_them() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _) = demo_db(dir.path()).await;
        // (seq, name, unique, origin, partial)
        let indexes: Vec<(i64, String, i64, String, i64)> =
            on_reader!(db, pool => sqlx::query_as("pragma index_list(outbox)").fetch_all(pool).await).unwrap();
        for name in ["outbox_pending_action", "outbox_digest"] {
            let index = indexes.iter().find(|index| index.1 == name);
            assert_eq!(index.map(|index| index.4), Some(1), "{name} is partial: {indexes:?}");
        }
        // Each query by pending action still goes through it.
        for sql in [
            "select id from outbox where pending_action_id = $1",
            "select id from outbox where +status = 'held' and pending_action_id in (select id from pending_actions where expires_at < $1)",
        ] {
            let plan = query_plan(&db, sql).await;
            assert!(plan.iter().any(|step| step.contains("outbox_pending_action")), "{sql}: {plan:?}");
        }
    }

    #[tokio::test]
    async fn a_claim_on_sqlite_finds_its_messages_by_id_not_by_reading_the_queue() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _) = demo_db(dir.path()).await;
        let sql = format!("explain query plan {}", crate::db::outbox::claim_sql(db.not_by_index()));
        let plan: Vec<(i64, i64, i64, String)> = on_reader!(db, pool => sqlx::query_as(&sql)
            .bind("w").bind(Utc::now()).bind(Utc::now()).bind(20).fetch_all(pool).await)
        .unwrap();
        // The first step is the update's own: by the ids its subquery chose. Reading the
        // `outbox_due` index there went through every pending message for each claim.
        assert!(plan[0].3.contains("INTEGER PRIMARY KEY"), "{plan:?}");
    }
}
