-- Email to targets: the people actions are addressed to, and every email waiting to leave.
create table targets (
    id bigint generated always as identity primary key,
    key text not null unique,
    name text not null,
    title text,
    salutation text,
    email text not null,
    organisation text,
    district text,
    party text,
    language text,
    created_at timestamptz not null,
    updated_at timestamptz not null
);

create table outbox (
    id bigint generated always as identity primary key,
    action_id bigint references actions (id) on delete set null,
    page_id bigint not null references pages (id),
    kind text not null check (kind in ('target', 'thanks')),
    to_address text not null,
    to_name text,
    from_name text,
    reply_to_address text,
    reply_to_name text,
    subject text not null,
    body text not null,
    status text not null check (status in ('pending', 'sent', 'failed', 'cancelled')),
    attempts integer not null default 0,
    next_attempt_at timestamptz not null,
    lease_owner text,
    lease_until timestamptz,
    last_error text,
    sent_at timestamptz,
    created_at timestamptz not null
);
create index outbox_due on outbox (status, next_attempt_at);
create index outbox_action on outbox (action_id);

alter table actions add column unsubscribed_at timestamptz;
