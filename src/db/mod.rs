//! Storage. The backend is chosen by the database URL: SQLite (a file in WAL mode, with a
//! single writer connection so that writes queue in the process instead of failing "busy")
//! or PostgreSQL. Queries use `$N` placeholders, which both dialects read, and run on each
//! backend's own pool, so timestamps, ids and JSON keep their types on both.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

/// Runs `$body` with `$pool` bound to the pool that serves reads.
macro_rules! on_reader {
    ($db:expr, $pool:ident => $body:expr) => {
        match &$db.backend {
            $crate::db::Backend::Sqlite { reader: $pool, .. } => $body,
            $crate::db::Backend::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` with `$pool` bound to the pool that serves writes.
macro_rules! on_writer {
    ($db:expr, $pool:ident => $body:expr) => {
        match &$db.backend {
            $crate::db::Backend::Sqlite { writer: $pool, .. } => $body,
            $crate::db::Backend::Postgres($pool) => $body,
        }
    };
}

pub mod actions;
pub mod cache;
pub mod copy;
pub mod counters;
pub mod districts;
pub mod group_commit;
pub mod outbox;
pub mod page_views;
pub mod pages;
pub mod pending;
pub mod sessions;
pub mod targets;
pub mod users;

/// Rows each page's count is spread over on PostgreSQL, so that writers running at once
/// (committers of one node, or of several) add to different rows.
pub(crate) const COUNTER_SHARDS: i32 = 16;

/// A handle on the database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    backend: Backend,
    /// Recent reads of public pages and counters (see `cache`).
    pub(crate) cache: std::sync::Arc<cache::ReadCache>,
    /// The queue of actions waiting to be committed together (see `group_commit`).
    committer: group_commit::Committer,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("backend", &self.backend_name()).finish()
    }
}

#[derive(Clone)]
enum Backend {
    Sqlite { reader: SqlitePool, writer: SqlitePool },
    Postgres(PgPool),
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database URL {0:?}: use sqlite:PATH or postgres://...")]
    UnsupportedUrl(String),
    #[error("a SQLite database in memory is not supported ({0:?}): use sqlite:PATH, a file")]
    SqliteInMemory(String),
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    /// From the connection an export reads a SQLite file with (`actions::export_sqlite_file`).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data cannot be read: {0}")]
    Corrupt(String),
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
}

/// A connection to write with, held across several transactions: taking one from the pool
/// and giving it back each cost a round trip to SQLite's thread (sqlx pings a connection
/// as it returns), which was a fifth of the time of a group commit (measured).
pub(crate) enum Writer {
    /// Held by SQLite's committer while its own connection writes, to keep the pool's
    /// other writers waiting in the process instead of on SQLite's lock; never written on.
    Sqlite(#[expect(dead_code, reason = "held, not used")] sqlx::pool::PoolConnection<sqlx::Sqlite>),
    Postgres(sqlx::pool::PoolConnection<sqlx::Postgres>),
}

impl Db {
    /// A writing connection to hold for a while. On SQLite it is the only one: others wait
    /// for it, so hold it only briefly.
    pub(crate) async fn writer(&self) -> Result<Writer, DbError> {
        Ok(match &self.backend {
            Backend::Sqlite { writer, .. } => Writer::Sqlite(writer.acquire().await?),
            Backend::Postgres(pool) => Writer::Postgres(pool.acquire().await?),
        })
    }

    /// Connects to `url` (`sqlite:PATH`, `sqlite://PATH` or `postgres://...`), creating a
    /// SQLite file if it is missing.
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        Self::connect_with(url, 20).await
    }

    /// As `connect`, with at most `max_connections` to PostgreSQL from this process (SQLite
    /// always has one writer and four readers).
    pub async fn connect_with(url: &str, max_connections: u32) -> Result<Self, DbError> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // FULL: an action acknowledged to a supporter survives a power cut too.
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            if url.contains(":memory:") || url.contains("mode=memory") {
                // Each connection would have a database of its own, and the group commit
                // writes on a connection of its own (`group_commit`).
                return Err(DbError::SqliteInMemory(url.to_string()));
            }
            let writer = SqlitePoolOptions::new()
                .max_connections(1)
                // A connection to a local file: pinging it before each use is a round trip
                // to its thread that learns nothing.
                .test_before_acquire(false)
                .connect_with(options.clone())
                .await?;
            let reader = SqlitePoolOptions::new().max_connections(4).connect_with(options.read_only(true)).await?;
            Ok(Self {
                backend: Backend::Sqlite { reader, writer },
                cache: Default::default(),
                committer: Default::default(),
            })
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(max_connections.max(1))
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await?;
            Ok(Self { backend: Backend::Postgres(pool), cache: Default::default(), committer: Default::default() })
        } else {
            Err(DbError::UnsupportedUrl(url.to_string()))
        }
    }

    /// Applies the embedded migrations of this backend that have not run yet.
    pub async fn migrate(&self) -> Result<(), DbError> {
        match &self.backend {
            Backend::Sqlite { writer, .. } => sqlx::migrate!("./migrations/sqlite").run(writer).await?,
            Backend::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// Writes a consistent copy of a SQLite database to `path` (which must not exist) while
    /// the site keeps running: `VACUUM INTO` reads one snapshot and does not hold the writer.
    /// `None` on PostgreSQL, whose own tools (pg_dump) do this.
    pub async fn backup_sqlite(&self, path: &std::path::Path) -> Result<Option<()>, DbError> {
        match &self.backend {
            Backend::Sqlite { reader, .. } => {
                sqlx::query("vacuum into $1").bind(path.to_string_lossy().as_ref()).execute(reader).await?;
                Ok(Some(()))
            }
            Backend::Postgres(_) => Ok(None),
        }
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), DbError> {
        on_reader!(self, pool => sqlx::query("select 1").execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite { .. } => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Which counter shard a new action goes to: spread on PostgreSQL, where writers run
    /// in parallel, and always 0 on SQLite, which has one writer.
    pub(crate) fn counter_shard(&self) -> i32 {
        match self.backend {
            Backend::Sqlite { .. } => 0,
            Backend::Postgres(_) => rand::random_range(0..COUNTER_SHARDS),
        }
    }

    /// `"+"` on SQLite, nothing on PostgreSQL: written before a column in a condition, it
    /// keeps SQLite from finding rows by that column's index. Where a statement names the
    /// few rows it wants by id, SQLite would otherwise pick the `(status, …)` index of the
    /// outbox and read every message in that status to find them (measured: 7.3 ms a claim
    /// with 74,000 messages queued, 0.04 ms with the `+`). PostgreSQL has no unary `+` on
    /// text; it plans the claim and the pending actions' statements by their ids, and where
    /// it did not (the sent marks), the statement says `status || ''` itself.
    pub(crate) fn not_by_index(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite { .. } => "+",
            Backend::Postgres(_) => "",
        }
    }

    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite { reader, writer } => {
                reader.close().await;
                writer.close().await;
            }
            Backend::Postgres(pool) => pool.close().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sqlite_database_in_memory_is_refused_with_the_reason() {
        for url in ["sqlite::memory:", "sqlite://file:shared?mode=memory&cache=shared"] {
            let refused = Db::connect(url).await.expect_err(url);
            assert!(matches!(refused, DbError::SqliteInMemory(_)), "{url}: {refused}");
            assert!(refused.to_string().contains("use sqlite:PATH, a file"), "{refused}");
        }
    }
}
