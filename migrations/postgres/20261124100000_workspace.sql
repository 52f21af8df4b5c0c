-- Organisers' workspace: accounts, sign-in sessions, page history, offset changes, page views.
create table users (
    id bigint generated always as identity primary key,
    email text not null unique,
    password_hash text not null,
    role text not null check (role in ('admin', 'editor', 'viewer')),
    created_at timestamptz not null,
    updated_at timestamptz not null
);

create table sessions (
    id text primary key,
    data jsonb not null,
    expires_at bigint not null,
    created_at timestamptz not null
);
create index sessions_expires_at on sessions (expires_at);

create table page_revisions (
    id bigint generated always as identity primary key,
    page_id bigint not null references pages (id),
    user_id bigint references users (id) on delete set null,
    summary text not null,
    spec jsonb not null,
    created_at timestamptz not null
);
create index page_revisions_page_id on page_revisions (page_id, id);

create table offset_changes (
    id bigint generated always as identity primary key,
    page_id bigint not null references pages (id),
    scope text not null check (scope in ('page', 'campaign')),
    old_offset bigint not null,
    new_offset bigint not null,
    old_goal bigint,
    new_goal bigint,
    reason text not null,
    user_id bigint references users (id) on delete set null,
    created_at timestamptz not null
);
create index offset_changes_page_id on offset_changes (page_id, id);

create table page_views (
    page_id bigint not null references pages (id),
    hour timestamptz not null,
    views bigint not null,
    created_at timestamptz not null,
    primary key (page_id, hour)
);

create index actions_page_created on actions (page_id, created_at);
