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
    id bigint generated always as identity primary key,
    page_id bigint not null references pages (id),
    email text not null,
    first_name text,
    last_name text,
    postal_code text,
    country text,
    consent boolean not null,
    consent_text text,
    subject text,
    message text,
    utm_source text,
    utm_medium text,
    utm_campaign text,
    utm_content text,
    utm_term text,
    referrer text,
    expires_at timestamptz not null,
    created_at timestamptz not null,
    unique (page_id, email)
);
create index pending_actions_expiry on pending_actions (expires_at);

-- Confirmation emails and digests (kinds); messages held until their action is confirmed
-- ('held') or bundled into a target's daily digest ('waiting', then 'digested').
alter table outbox drop constraint outbox_kind_check;
alter table outbox add constraint outbox_kind_check check (kind in ('target', 'thanks', 'confirm', 'digest'));
alter table outbox drop constraint outbox_status_check;
alter table outbox add constraint outbox_status_check
    check (status in ('held', 'waiting', 'pending', 'sent', 'failed', 'cancelled', 'digested'));
alter table outbox add column pending_action_id bigint references pending_actions (id) on delete set null;
alter table outbox add column digest_id bigint references outbox (id);
create index outbox_pending_action on outbox (pending_action_id);
