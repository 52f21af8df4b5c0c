-- Campaigns, their pages, the actions taken on them, and the counts behind the counters.
create table campaigns (
    id bigint generated always as identity primary key,
    slug text not null unique,
    name text not null,
    counter_offset bigint not null default 0,
    counter_goal bigint,
    created_at timestamptz not null,
    updated_at timestamptz not null
);

create table pages (
    id bigint generated always as identity primary key,
    campaign_id bigint not null references campaigns (id),
    slug text not null unique,
    locale text not null check (locale in ('en', 'fr')),
    status text not null check (status in ('draft', 'live', 'closed')),
    kind text not null check (kind in ('petition', 'letter')),
    title text not null,
    counter_scope text not null default 'page' check (counter_scope in ('page', 'campaign')),
    counter_offset bigint not null default 0,
    counter_goal bigint,
    content jsonb not null,
    created_at timestamptz not null,
    updated_at timestamptz not null
);
create index pages_campaign_id on pages (campaign_id);

create table actions (
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
    created_at timestamptz not null,
    unique (page_id, email)
);

create table action_counts (
    page_id bigint not null references pages (id),
    shard integer not null,
    actions bigint not null default 0,
    created_at timestamptz not null,
    primary key (page_id, shard)
);
