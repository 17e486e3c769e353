-- Warehouse tables owned by the Python side of leadflow (dbt owns everything else).
-- Idempotent: safe to run before every task.

create schema if not exists raw;
create schema if not exists leadflow;

-- CRM objects: one row per HubSpot object, the full API JSON kept in `record`.
create table if not exists raw.hubspot_contacts (
    id bigint primary key,
    record jsonb not null,
    updated_at timestamptz not null,
    archived boolean not null default false,
    _load_id text not null,
    _loaded_at timestamptz not null default now()
);
create table if not exists raw.hubspot_companies (like raw.hubspot_contacts including all);
create table if not exists raw.hubspot_deals (like raw.hubspot_contacts including all);
create table if not exists raw.hubspot_owners (like raw.hubspot_contacts including all);

create table if not exists raw.hubspot_associations (
    from_type text not null,
    from_id bigint not null,
    to_type text not null,
    to_id bigint not null,
    type_id integer not null,
    _load_id text not null,
    _loaded_at timestamptz not null default now(),
    primary key (from_type, from_id, to_type, to_id, type_id)
);

create table if not exists raw.hubspot_events (
    id text primary key,
    event_type text not null,
    object_type text not null,
    object_id bigint not null,
    occurred_at timestamptz not null,
    record jsonb not null,
    _load_id text not null,
    _loaded_at timestamptz not null default now()
);
create index if not exists hubspot_events_object_idx on raw.hubspot_events (object_id, occurred_at);
create index if not exists hubspot_events_loaded_idx on raw.hubspot_events (_loaded_at);

-- Pipeline bookkeeping.
create table if not exists leadflow.stream_state (
    stream text primary key,
    cursor_at timestamptz not null,
    updated_at timestamptz not null default now()
);

-- One row per DAG run, written at the start so a run killed by the OOM killer stays visible.
create table if not exists leadflow.runs (
    run_id text primary key,
    interval_start timestamptz not null,
    interval_end timestamptz not null,
    status text not null,
    started_at timestamptz not null default now(),
    finished_at timestamptz,
    stats jsonb not null default '{}'::jsonb,
    error text
);

-- Bad input is kept with its reason, never silently dropped.
create table if not exists leadflow.quarantine (
    id bigserial primary key,
    stream text not null,
    load_id text not null,
    record_id text,
    reason text not null,
    payload text not null,
    quarantined_at timestamptz not null default now()
);
create unique index if not exists quarantine_dedup_idx
    on leadflow.quarantine (stream, load_id, md5(payload));

create table if not exists leadflow.quality_results (
    run_id text not null,
    suite text not null,
    success boolean not null,
    evaluated integer not null,
    failed integer not null,
    details jsonb not null,
    checked_at timestamptz not null default now(),
    primary key (run_id, suite)
);

-- Last state successfully written to the CRM per contact: the diff base of the push.
create table if not exists leadflow.push_state (
    contact_id bigint primary key,
    properties jsonb not null,
    pushed_at timestamptz not null,
    run_id text not null
);

-- Per-row audit of every push attempt.
create table if not exists leadflow.push_log (
    id bigserial primary key,
    run_id text not null,
    contact_id bigint not null,
    before jsonb,
    after jsonb not null,
    status text not null,
    error text,
    logged_at timestamptz not null default now()
);
create index if not exists push_log_contact_idx on leadflow.push_log (contact_id, logged_at);
