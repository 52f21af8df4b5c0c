-- Postal codes to electoral districts, imported by organisers: a full postal code or its
-- first three characters (normalised: capitals, no spaces). One prefix may span districts.
create table districts (
    postal_prefix text not null,
    district text not null,
    primary key (postal_prefix, district)
);
create index targets_district on targets (district);

-- Actions waiting for their supporter to confirm their email address (pages that verify
-- senders). Not counted; moved into `actions` on confirmation, purged when they expire.
create table pending_actions (
    id integer primary key,
    page_id integer not null references pages (id),
    email text not null,
    first_name text,
    last_name text,
    postal_code text,
    country text,
    consent integer not null check (consent in (0, 1)),
    consent_text text,
    subject text,
    message text,
    utm_source text,
    utm_medium text,
    utm_campaign text,
    utm_content text,
    utm_term text,
    referrer text,
    expires_at text not null,
    created_at text not null,
    unique (page_id, email)
);
create index pending_actions_expiry on pending_actions (expires_at);

-- The outbox learns three things: confirmation emails and digests (kinds), messages held
-- until their action is confirmed ('held') or bundled into a target's daily digest
-- ('waiting', then 'digested'). SQLite cannot change a check constraint: rebuild the table.
create table outbox_new (
    id integer primary key,
    action_id integer references actions (id) on delete set null,
    page_id integer not null references pages (id),
    kind text not null check (kind in ('target', 'thanks', 'confirm', 'digest')),
    to_address text not null,
    to_name text,
    from_name text,
    reply_to_address text,
    reply_to_name text,
    subject text not null,
    body text not null,
    status text not null check (status in ('held', 'waiting', 'pending', 'sent', 'failed', 'cancelled', 'digested')),
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
                        created_at)
select id, action_id, page_id, kind, to_address, to_name, from_name, reply_to_address, reply_to_name, subject, body,
       status, attempts, next_attempt_at, lease_owner, lease_until, last_error, sent_at, created_at
from outbox;
drop table outbox;
alter table outbox_new rename to outbox;
create index outbox_due on outbox (status, next_attempt_at);
create index outbox_action on outbox (action_id);
create index outbox_pending_action on outbox (pending_action_id);
