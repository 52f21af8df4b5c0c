//! CSV exports of actions. Rows are read in batches and written as they come, so an
//! export of a million actions needs no more memory than one of a hundred.

use axum::body::Bytes;
use futures_util::Stream;

use crate::db::actions::{ExportFilter, ExportRow, export_batch, export_csv_batch};
use crate::db::{Db, DbError};

/// The columns, in order. Documented in the README.
pub const COLUMNS: [&str; 20] = [
    "action_id",
    "campaign",
    "page",
    "kind",
    "created_at",
    "first_name",
    "last_name",
    "email",
    "postal_code",
    "country",
    "consent",
    "consent_text",
    "subject",
    "message",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
    "referrer",
];

const BATCH: i64 = 5_000;
/// Rows per batch on SQLite, where a batch is one string built by SQLite and copied twice on
/// its way out: smaller, so that the server's memory stays flat.
const SQLITE_BATCH: i64 = 2_000;

/// A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` (or a tab or carriage
/// return before one) as a formula; a leading apostrophe makes it text again.
pub fn neutralise(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{cell}") } else { cell.to_string() }
}

fn text(cell: &Option<String>) -> String {
    cell.as_deref().map(neutralise).unwrap_or_default()
}

fn record(row: &ExportRow) -> [String; 20] {
    [
        row.id.to_string(),
        neutralise(&row.campaign),
        neutralise(&row.page),
        row.kind.clone(),
        row.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        text(&row.first_name),
        text(&row.last_name),
        neutralise(&row.email),
        text(&row.postal_code),
        text(&row.country),
        if row.consent { "yes" } else { "no" }.to_string(),
        text(&row.consent_text),
        text(&row.subject),
        text(&row.message),
        text(&row.utm_source),
        text(&row.utm_medium),
        text(&row.utm_campaign),
        text(&row.utm_content),
        text(&row.utm_term),
        text(&row.referrer),
    ]
}

/// Writes rows as CSV (RFC 4180 quoting) into bytes.
fn encode<I: IntoIterator<Item = [String; 20]>>(records: I) -> Result<Bytes, DbError> {
    let mut writer = csv::Writer::from_writer(Vec::with_capacity(64 * 1024));
    for record in records {
        writer.write_record(&record).map_err(|e| DbError::Corrupt(e.to_string()))?;
    }
    writer.into_inner().map(Bytes::from).map_err(|e| DbError::Corrupt(e.to_string()))
}

pub fn header() -> Result<Bytes, DbError> {
    encode([COLUMNS.map(String::from)])
}

/// The export as a stream of CSV chunks: the header, then one chunk per batch of rows
/// (on SQLite, made by SQLite: `db::actions::export_csv_batch`).
/// `on_rows` is told how many rows each chunk carried (for progress bars).
pub fn stream(
    db: Db,
    filter: ExportFilter,
    on_rows: impl Fn(usize) + Send + 'static,
) -> impl Stream<Item = Result<Bytes, DbError>> + Send {
    let start = (db, filter, Some(0_i64), true, on_rows);
    futures_util::stream::try_unfold(start, |(db, filter, after, first, on_rows)| async move {
        if first {
            return Ok(Some((header()?, (db, filter, after, false, on_rows))));
        }
        let Some(after) = after else { return Ok(None) };
        if let Some(batch) = export_csv_batch(&db, &filter, after, SQLITE_BATCH).await? {
            if batch.rows == 0 {
                return Ok(None);
            }
            let next = if batch.rows < SQLITE_BATCH { None } else { Some(batch.last_id) };
            on_rows(batch.rows as usize);
            return Ok(Some((Bytes::from(batch.csv), (db, filter, next, false, on_rows))));
        }
        let rows = export_batch(&db, &filter, after, BATCH).await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let next = if (rows.len() as i64) < BATCH { None } else { rows.last().map(|row| row.id) };
        on_rows(rows.len());
        let chunk = encode(rows.iter().map(record))?;
        Ok(Some((chunk, (db, filter, next, false, on_rows))))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_a_spreadsheet_would_run_become_text() {
        assert_eq!(neutralise("=HYPERLINK(\"http://x\")"), "'=HYPERLINK(\"http://x\")");
        for risky in ["+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1"] {
            assert!(neutralise(risky).starts_with('\''), "{risky:?}");
        }
        assert_eq!(neutralise("Ana"), "Ana");
    }

    #[test]
    fn quotes_commas_and_newlines_are_quoted() {
        let mut row = [""; 20].map(String::from);
        row[13] = "Line one, \"quoted\"\nline two".into();
        let bytes = encode([row]).unwrap();
        assert!(String::from_utf8(bytes.to_vec()).unwrap().contains("\"Line one, \"\"quoted\"\"\nline two\""));
    }
}
