-- SQLite's index entries end with the rowid, which is the id: `outbox_due` already gives the
-- claim's (next_attempt_at, id) order. Nothing changes here; the file keeps both backends'
-- migrations in step.
select 1;
