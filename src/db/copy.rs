//! Moving an instance between databases (`undersigned db copy`): every table, row for row
//! with its ids, from SQLite to PostgreSQL (or back, or between two PostgreSQL servers),
//! then a count of both sides. Column types come from the PostgreSQL side's catalogue, so
//! timestamps, booleans and JSON are read and written as what they are.

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use sqlx::Row;
use sqlx::types::Json;

use crate::db::{Backend, Db, DbError};

/// Every table, parents before children.
pub const TABLES: &[&str] = &[
    "users",
    "campaigns",
    "pages",
    "page_revisions",
    "offset_changes",
    "sessions",
    "page_views",
    "targets",
    "districts",
    "actions",
    "action_counts",
    "pending_actions",
    "outbox",
];

/// Rows per insert statement, at most; fewer for wide tables (SQLite binds ≤ 32,766 values).
const CHUNK_ROWS: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    BigInt,
    Int,
    Text,
    Bool,
    Time,
    Json,
}

#[derive(Debug, Clone)]
enum Value {
    BigInt(Option<i64>),
    Int(Option<i32>),
    Text(Option<String>),
    Bool(Option<bool>),
    Time(Option<DateTime<Utc>>),
    Json(Option<Json<serde_json::Value>>),
}

/// Rows on each side after copying one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCount {
    pub table: &'static str,
    pub source: i64,
    pub destination: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("one side must be PostgreSQL (to copy a SQLite file, use `undersigned db backup`)")]
    NoPostgres,
    #[error("the destination already holds data (table {0}); copy into an empty database")]
    NotEmpty(&'static str),
    #[error("table {table} differs between the two databases ({detail}); run the same version of Undersigned on both")]
    SchemaMismatch { table: &'static str, detail: String },
    #[error("table {table} has {source_rows} rows at the source but {destination_rows} at the destination")]
    CountMismatch { table: &'static str, source_rows: i64, destination_rows: i64 },
    #[error("column {column} has a type this copy does not know: {kind}")]
    UnknownType { column: String, kind: String },
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for CopyError {
    fn from(error: sqlx::Error) -> Self {
        CopyError::Db(DbError::Sqlx(error))
    }
}

fn kind_of(column: &str, data_type: &str) -> Result<Kind, CopyError> {
    Ok(match data_type {
        "bigint" => Kind::BigInt,
        "integer" | "smallint" => Kind::Int,
        "text" | "character varying" => Kind::Text,
        "boolean" => Kind::Bool,
        "timestamp with time zone" => Kind::Time,
        "jsonb" | "json" => Kind::Json,
        other => return Err(CopyError::UnknownType { column: column.into(), kind: other.into() }),
    })
}

/// The table's columns and their kinds, from PostgreSQL's catalogue, and whether it has an
/// identity column (whose copied values must override the generated ones).
async fn columns(pg: &sqlx::PgPool, table: &'static str) -> Result<(Vec<(String, Kind)>, bool), CopyError> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "select column_name::text, data_type::text, is_identity::text from information_schema.columns
         where table_schema = current_schema() and table_name = $1 order by ordinal_position",
    )
    .bind(table)
    .fetch_all(pg)
    .await?;
    let identity = rows.iter().any(|(_, _, is_identity)| is_identity == "YES");
    let columns = rows
        .iter()
        .map(|(name, data_type, _)| Ok((name.clone(), kind_of(name, data_type)?)))
        .collect::<Result<_, CopyError>>()?;
    Ok((columns, identity))
}

async fn sqlite_columns(pool: &sqlx::SqlitePool, table: &str) -> Result<Vec<String>, CopyError> {
    let rows: Vec<(String,)> =
        sqlx::query_as("select name from pragma_table_info($1) order by cid").bind(table).fetch_all(pool).await?;
    Ok(rows.into_iter().map(|(name,)| name).collect())
}

macro_rules! decode_row {
    ($row:expr, $kinds:expr) => {{
        let mut values = Vec::with_capacity($kinds.len());
        for (i, kind) in $kinds.iter().enumerate() {
            values.push(match kind {
                Kind::BigInt => Value::BigInt($row.try_get(i)?),
                Kind::Int => Value::Int($row.try_get(i)?),
                Kind::Text => Value::Text($row.try_get(i)?),
                Kind::Bool => Value::Bool($row.try_get(i)?),
                Kind::Time => Value::Time($row.try_get(i)?),
                Kind::Json => Value::Json($row.try_get(i)?),
            });
        }
        values
    }};
}

macro_rules! bind_values {
    ($query:expr, $rows:expr) => {{
        let mut query = $query;
        for row in $rows {
            for value in row {
                query = match value {
                    Value::BigInt(v) => query.bind(v),
                    Value::Int(v) => query.bind(v),
                    Value::Text(v) => query.bind(v),
                    Value::Bool(v) => query.bind(v),
                    Value::Time(v) => query.bind(v),
                    Value::Json(v) => query.bind(v),
                };
            }
        }
        query
    }};
}

fn insert_sql(table: &str, names: &[String], rows: usize) -> String {
    let width = names.len();
    let tuples: Vec<String> = (0..rows)
        .map(|r| {
            let params: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
            format!("({})", params.join(", "))
        })
        .collect();
    // Identity columns on PostgreSQL are `generated always`: keep the source's ids anyway.
    format!("insert into {table} ({}) overriding_placeholder values {}", names.join(", "), tuples.join(", "))
}

async fn write_chunk(
    to: &Db,
    table: &str,
    names: &[String],
    identity: bool,
    rows: &[Vec<Value>],
) -> Result<(), CopyError> {
    if rows.is_empty() {
        return Ok(());
    }
    let sql = insert_sql(table, names, rows.len());
    match &to.backend {
        Backend::Sqlite { writer, .. } => {
            let sql = sql.replace(" overriding_placeholder", "");
            bind_values!(sqlx::query(&sql), rows.iter().cloned()).execute(writer).await?;
        }
        Backend::Postgres(pool) => {
            let overriding = if identity { " overriding system value" } else { "" };
            let sql = sql.replace(" overriding_placeholder", overriding);
            bind_values!(sqlx::query(&sql), rows.iter().cloned()).execute(pool).await?;
        }
    }
    Ok(())
}

async fn count(db: &Db, table: &str) -> Result<i64, CopyError> {
    let sql = format!("select count(*) from {table}");
    Ok(on_reader!(db, pool => sqlx::query_scalar(&sql).fetch_one(pool).await)?)
}

/// Copies every table of `from` into the empty, migrated `to`, then compares the counts.
/// `progress` hears each table's name and rows as it finishes.
pub async fn copy_all(from: &Db, to: &Db, progress: impl Fn(&TableCount)) -> Result<Vec<TableCount>, CopyError> {
    let pg = match (&from.backend, &to.backend) {
        (_, Backend::Postgres(pool)) | (Backend::Postgres(pool), _) => pool.clone(),
        _ => return Err(CopyError::NoPostgres),
    };
    for table in TABLES {
        if count(to, table).await? > 0 {
            return Err(CopyError::NotEmpty(table));
        }
    }
    let mut counts = Vec::new();
    for &table in TABLES {
        let (columns, identity) = columns(&pg, table).await?;
        let names: Vec<String> = columns.iter().map(|(n, _)| n.clone()).collect();
        let kinds: Vec<Kind> = columns.iter().map(|(_, k)| *k).collect();
        for side in [from, to] {
            if let Backend::Sqlite { reader, .. } = &side.backend {
                let mut theirs = sqlite_columns(reader, table).await?;
                theirs.sort();
                let mut ours = names.clone();
                ours.sort();
                if theirs != ours {
                    let detail = format!("{ours:?} against {theirs:?}");
                    return Err(CopyError::SchemaMismatch { table, detail });
                }
            }
        }
        // A digest's letters come before the digest: link them once every row is in.
        let deferred = names.iter().position(|n| n == "digest_id");
        let mut links: Vec<(i64, i64)> = Vec::new();
        let width = names.len();
        let chunk = CHUNK_ROWS.min(30_000 / width.max(1));
        let order = if names.iter().any(|n| n == "id") { " order by id" } else { "" };
        let select = format!("select {} from {table}{order}", names.join(", "));
        let mut batch: Vec<Vec<Value>> = Vec::with_capacity(chunk);
        macro_rules! pump {
            ($pool:expr) => {{
                let mut rows = sqlx::query(&select).fetch($pool);
                while let Some(row) = rows.try_next().await? {
                    let mut values = decode_row!(row, kinds);
                    if let Some(at) = deferred {
                        if let (Value::BigInt(Some(id)), Value::BigInt(Some(digest))) = (&values[0], &values[at]) {
                            links.push((*id, *digest));
                        }
                        values[at] = Value::BigInt(None);
                    }
                    batch.push(values);
                    if batch.len() == chunk {
                        write_chunk(to, table, &names, identity, &batch).await?;
                        batch.clear();
                    }
                }
            }};
        }
        match &from.backend {
            Backend::Sqlite { reader, .. } => pump!(reader),
            Backend::Postgres(pool) => pump!(pool),
        }
        write_chunk(to, table, &names, identity, &batch).await?;
        for (id, digest) in links {
            on_writer!(to, pool => sqlx::query(&format!("update {table} set digest_id = $1 where id = $2"))
                .bind(digest).bind(id).execute(pool).await.map(|_| ()))?;
        }
        if let Backend::Postgres(pool) = &to.backend {
            if identity {
                // New rows continue after the copied ids.
                sqlx::query(&format!(
                    "select setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 0) + 1, false) from {table}"
                ))
                .execute(pool)
                .await?;
            }
        }
        let copied = TableCount { table, source: count(from, table).await?, destination: count(to, table).await? };
        progress(&copied);
        if copied.source != copied.destination {
            return Err(CopyError::CountMismatch {
                table,
                source_rows: copied.source,
                destination_rows: copied.destination,
            });
        }
        counts.push(copied);
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_number_their_parameters_row_after_row() {
        let sql = insert_sql("t", &["a".into(), "b".into()], 2);
        assert_eq!(sql, "insert into t (a, b) overriding_placeholder values ($1, $2), ($3, $4)");
    }
}
