-- Organisers' workspace: accounts, sign-in sessions, page history, offset changes, page views.
create table users (
    id integer primary key,
    email text not null unique,
    password_hash text not null,
    role text not null check (role in ('admin', 'editor', 'viewer')),
    created_at text not null,
    updated_at text not null
);

create table sessions (
    id text primary key,
    data text not null,
    expires_at integer not null, -- unix seconds
    created_at text not null
);
create index sessions_expires_at on sessions (expires_at);

-- A full copy of the page after each change, with who made it and what it was.
create table page_revisions (
    id integer primary key,
    page_id integer not null references pages (id),
    user_id integer references users (id) on delete set null,
    summary text not null,
    spec text not null,
    created_at text not null
);
create index page_revisions_page_id on page_revisions (page_id, id);

create table offset_changes (
    id integer primary key,
    page_id integer not null references pages (id),
    scope text not null check (scope in ('page', 'campaign')),
    old_offset integer not null,
    new_offset integer not null,
    old_goal integer,
    new_goal integer,
    reason text not null,
    user_id integer references users (id) on delete set null,
    created_at text not null
);
create index offset_changes_page_id on offset_changes (page_id, id);

-- Views per page per hour, flushed from memory every few seconds.
create table page_views (
    page_id integer not null references pages (id),
    hour text not null,
    views integer not null,
    created_at text not null,
    primary key (page_id, hour)
);

create index actions_page_created on actions (page_id, created_at);
