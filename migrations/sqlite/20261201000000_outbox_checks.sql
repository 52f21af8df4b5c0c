-- The outbox's two checks, written as comparisons. SQLite checks `x in (a, b, c, …)` of
-- more than two values by building a temporary table of the values, for every row written:
-- each message inserted, claimed or marked sent built two (a tenth of the committing
-- thread's time, measured). The same values are allowed as before. SQLite cannot change a
-- check constraint: rebuild the table, as 20261125000000 did.
create table outbox_new (
    id integer primary key,
    action_id integer references actions (id) on delete set null,
    page_id integer not null references pages (id),
    kind text not null check (kind = 'target' or kind = 'thanks' or kind = 'confirm' or kind = 'digest'),
    to_address text not null,
    to_name text,
    from_name text,
    reply_to_address text,
    reply_to_name text,
    subject text not null,
    body text not null,
    status text not null check (
        status = 'held' or status = 'waiting' or status = 'pending' or status = 'sent' or status = 'failed'
        or status = 'cancelled' or status = 'digested'
    ),
    attempts integer not null default 0,
    next_attempt_at text not null,
    lease_owner text,
    lease_until text,
    last_error text,
    sent_at text,
    created_at text not null,
    pending_action_id integer references pending_actions (id) on delete set null,
    digest_id integer references outbox_new (id)
);
insert into outbox_new (id, action_id, page_id, kind, to_address, to_name, from_name, reply_to_address, reply_to_name,
                        subject, body, status, attempts, next_attempt_at, lease_owner, lease_until, last_error, sent_at,
                        created_at, pending_action_id, digest_id)
select id, action_id, page_id, kind, to_address, to_name, from_name, reply_to_address, reply_to_name, subject, body,
       status, attempts, next_attempt_at, lease_owner, lease_until, last_error, sent_at, created_at, pending_action_id,
       digest_id
from outbox;
-- Dropping a table deletes its rows first, and each deleted row is looked up among the
-- digests that reference it: without an index, a scan of the table per row.
create index outbox_old_digest on outbox (digest_id) where digest_id is not null;
drop table outbox;
alter table outbox_new rename to outbox;
create index outbox_due on outbox (status, next_attempt_at);
create index outbox_action on outbox (action_id);
create index outbox_pending_action on outbox (pending_action_id);
-- The same lookup runs whenever a message is deleted (a supporter's held letters, replaced
-- or expired): it read the whole outbox for each one (measured: 43 ms a message with 117,000
-- queued, 0.004 ms with the index). Only letters bundled into a digest have a `digest_id`.
create index outbox_digest on outbox (digest_id) where digest_id is not null;
