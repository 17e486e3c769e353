-- Warehouse tables owned by the Python side of leadflow (dbt owns everything else); each
-- source adds its raw tables (its package's schema.sql). Idempotent: run before every task.

create schema if not exists raw;
create schema if not exists leadflow;

-- Pipeline bookkeeping.
-- When each load id first wrote: an extract registers its load before its first batch (a re-run of
-- the interval keeps the first time), so every row of a load has `_loaded_at` at or after it and a
-- quality gate finds the load's rows through the `_loaded_at` index instead of scanning raw.
create table if not exists leadflow.loads (
    load_id text primary key,
    started_at timestamptz not null default now()
);

create table if not exists leadflow.stream_state (
    stream text primary key,
    cursor_at timestamptz not null,
    updated_at timestamptz not null default now()
);
-- A keyset cursor's second part: the id of the last record read at cursor_at, for sources
-- whose timestamps many records share (whole seconds), so a run resumes after it.
alter table leadflow.stream_state add column if not exists cursor_key text;

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
-- Immutable records that every run reads again (events with implausible dates) are kept once.
create index if not exists quarantine_record_idx on leadflow.quarantine (stream, record_id);

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

-- Push guard (issue 5). A batch is written here before it is sent and removed in the same
-- transaction that records its outcome, so rows left here were sent by a run that died before
-- it heard back; the next run reads them back from the CRM instead of sending them again.
create table if not exists leadflow.push_inflight (
    contact_id bigint primary key,
    run_id text not null,
    after jsonb not null,
    payload jsonb not null,
    marked_at timestamptz not null default now()
);
-- Notes and tasks written on contacts' timelines, one per key ("note:<note_key>"). A row without
-- object_id is unconfirmed: marked before its batch was sent, by a run that died or heard an
-- error; the next push looks for it in the CRM (by the reference line in its body) before
-- writing it again, so each is written once.
create table if not exists leadflow.crm_activities (
    activity_key text primary key,
    kind text not null,
    contact_id bigint not null,
    object_id text,
    error text,
    run_id text not null,
    marked_at timestamptz not null default now(),
    written_at timestamptz
);
-- The contacts leadflow put in a CRM list (the nurture list), as the CRM last confirmed.
create table if not exists leadflow.list_members (
    list_id text not null,
    contact_id bigint not null,
    added_at timestamptz not null default now(),
    run_id text not null,
    primary key (list_id, contact_id)
);
-- Why a row was sent the way it was (lifecycle decision, dropped properties, upsert by email).
alter table leadflow.push_log add column if not exists note text;
create index if not exists push_log_run_idx on leadflow.push_log (run_id);

-- Every alert leadflow raised, written before it is sent (callbacks do not run on SIGKILL,
-- and a Slack outage must not lose the fact that something failed).
create table if not exists leadflow.alerts (
    id bigserial primary key,
    run_id text,
    kind text not null,
    title text not null,
    rows_affected bigint,
    body text not null,
    channels jsonb not null default '{}'::jsonb,
    raised_at timestamptz not null default now()
);
create index if not exists alerts_run_idx on leadflow.alerts (run_id, kind);

-- The outgoing list as the gate validated it, per run: its row count and an order-independent
-- checksum of its rows. The push recomputes both in the snapshot it reads and sends nothing
-- when they differ, so a write to the mart after the gate never reaches the CRM unchecked.
create table if not exists leadflow.validated_outgoing (
    run_id text primary key,
    row_count bigint not null,
    checksum numeric not null,
    validated_at timestamptz not null default now()
);

-- What the CRM holds in leadflow's properties is compared with what was sent (push_state.sent)
-- when contacts are read back, and a property deleted and created again is found by its
-- definition's createdAt: values lost in the CRM are pushed again (push.restore_drift).
alter table leadflow.push_state add column if not exists sent jsonb;
create table if not exists leadflow.crm_properties (
    name text primary key,
    created_at text not null,
    seen_at timestamptz not null default now()
);
-- One row per check: contacts re-read since the last check are compared.
create table if not exists leadflow.crm_drift_checks (
    id bigserial primary key,
    run_id text not null,
    checked_at timestamptz not null default now(),
    contacts_restored integer not null,
    properties_recreated text[] not null
);

-- Every change seen in the CRM's property lists (added, removed, type changed), per load.
create table if not exists leadflow.source_schema_changes (
    id bigserial primary key,
    stream text not null,
    name text not null,
    change text not null,
    old_type text,
    new_type text,
    load_id text not null,
    detected_at timestamptz not null default now()
);
