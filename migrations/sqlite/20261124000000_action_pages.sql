-- Campaigns, their pages, the actions taken on them, and the counts behind the counters.
create table campaigns (
    id integer primary key,
    slug text not null unique,
    name text not null,
    -- offset and goal of counters whose scope is the whole campaign
    counter_offset integer not null default 0,
    counter_goal integer,
    created_at text not null,
    updated_at text not null
);

create table pages (
    id integer primary key,
    campaign_id integer not null references campaigns (id),
    slug text not null unique,
    locale text not null check (locale in ('en', 'fr')),
    status text not null check (status in ('draft', 'live', 'closed')),
    kind text not null check (kind in ('petition', 'letter')),
    title text not null,
    -- offset and goal of counters whose scope is this page
    counter_scope text not null default 'page' check (counter_scope in ('page', 'campaign')),
    counter_offset integer not null default 0,
    counter_goal integer,
    -- JSON: intro, share text, closing message and the ordered blocks
    content text not null,
    created_at text not null,
    updated_at text not null
);
create index pages_campaign_id on pages (campaign_id);

create table actions (
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
    created_at text not null,
    unique (page_id, email)
);

-- Counted actions per page, kept in the same transaction as each action so that reading a
-- counter never scans the actions. Several shards per page let concurrent writers on
-- PostgreSQL update different rows; SQLite, with one writer, uses shard 0.
create table action_counts (
    page_id integer not null references pages (id),
    shard integer not null,
    actions integer not null default 0,
    created_at text not null,
    primary key (page_id, shard)
);
