-- Email to targets: the people actions are addressed to, and every email waiting to leave.
create table targets (
    id integer primary key,
    key text not null unique,
    name text not null,
    title text,
    salutation text,
    email text not null,
    organisation text,
    district text,
    party text,
    language text,
    created_at text not null,
    updated_at text not null
);

-- Written in the same transaction as the action it comes from; the worker claims each
-- message with a lease, so that one node at a time tries to send it.
create table outbox (
    id integer primary key,
    action_id integer references actions (id) on delete set null,
    page_id integer not null references pages (id),
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
    next_attempt_at text not null,
    lease_owner text,
    lease_until text,
    last_error text,
    sent_at text,
    created_at text not null
);
create index outbox_due on outbox (status, next_attempt_at);
create index outbox_action on outbox (action_id);

alter table actions add column unsubscribed_at text;
