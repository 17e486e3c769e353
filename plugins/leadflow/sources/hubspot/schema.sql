-- HubSpot's raw tables (leadflow.sources.hubspot); idempotent, run before every task.

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

-- 128-bit blake2b of the source JSON as loaded: unchanged re-reads are skipped without parsing jsonb.
alter table raw.hubspot_contacts add column if not exists _hash uuid;
alter table raw.hubspot_companies add column if not exists _hash uuid;
alter table raw.hubspot_deals add column if not exists _hash uuid;
alter table raw.hubspot_owners add column if not exists _hash uuid;

-- The engagement objects (sales activity on a contact's timeline), one table per type.
create table if not exists raw.hubspot_calls (like raw.hubspot_contacts including all);
create table if not exists raw.hubspot_meetings (like raw.hubspot_contacts including all);
create table if not exists raw.hubspot_emails (like raw.hubspot_contacts including all);
create table if not exists raw.hubspot_notes (like raw.hubspot_contacts including all);
create table if not exists raw.hubspot_tasks (like raw.hubspot_contacts including all);

-- Merged-away contact ids and the contact they now live in (from the survivor's
-- hs_merged_object_ids); the old ids stay in raw.hubspot_contacts marked archived.
create table if not exists raw.hubspot_contact_merges (
    old_id bigint primary key,
    survivor_id bigint not null,
    _load_id text not null,
    _loaded_at timestamptz not null default now()
);
create index if not exists hubspot_contact_merges_survivor_idx
    on raw.hubspot_contact_merges (survivor_id);

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

-- The CRM's property definitions per object type, as the Properties API listed them on the
-- last run. The staging models read a property only while it is listed here, so one deleted
-- in the CRM stops counting for every contact at once, not only for those edited since.
create table if not exists raw.hubspot_properties (
    object_type text not null,
    name text not null,
    type text not null,
    record jsonb not null,
    _load_id text not null,
    _loaded_at timestamptz not null default now(),
    primary key (object_type, name)
);

-- Each contact's past lifecyclestage and hs_lead_status values as HubSpot keeps them
-- (propertiesWithHistory): one row per value and time it was set; rows are never removed.
create table if not exists raw.hubspot_contact_history (
    contact_id bigint not null,
    property text not null,
    value text not null,
    changed_at timestamptz not null,
    source_type text,
    _load_id text not null,
    _loaded_at timestamptz not null default now(),
    primary key (contact_id, property, changed_at, value)
);

-- Marketing activity every tier can read, keyed by the email it names (none carries a contact
-- id): form submissions (kind = form id), marketing email events (kind = type) and
-- subscription changes (kind = change). Rows are immutable; the staging models join them to
-- contacts by normalized email, so one from an address no contact has yet waits in raw.
create table if not exists raw.hubspot_form_submissions (
    id text primary key,
    kind text not null,
    email text,
    occurred_at timestamptz not null,
    record jsonb not null,
    _load_id text not null,
    _loaded_at timestamptz not null default now()
);
create table if not exists raw.hubspot_email_events (like raw.hubspot_form_submissions including all);
create table if not exists raw.hubspot_subscription_changes (like raw.hubspot_form_submissions including all);
create index if not exists hubspot_form_submissions_loaded_idx on raw.hubspot_form_submissions (_loaded_at);
create index if not exists hubspot_form_submissions_email_idx on raw.hubspot_form_submissions (email);
create index if not exists hubspot_email_events_loaded_idx on raw.hubspot_email_events (_loaded_at);
create index if not exists hubspot_email_events_email_idx on raw.hubspot_email_events (email);
create index if not exists hubspot_subscription_changes_loaded_idx on raw.hubspot_subscription_changes (_loaded_at);
create index if not exists hubspot_subscription_changes_email_idx on raw.hubspot_subscription_changes (email);
