-- Salesforce's raw tables (leadflow.sources.salesforce); idempotent, run before every task.

-- One row per record, the REST API's JSON kept in `record` (without its `attributes`);
-- updated_at is its cursor field (SystemModstamp; CreatedDate for LeadHistory), archived
-- its IsDeleted (deleted or merged away: queryAll reads both).
create table if not exists raw.salesforce_leads (
    id text primary key,
    record jsonb not null,
    updated_at timestamptz not null,
    archived boolean not null default false,
    _hash uuid,
    _load_id text not null,
    _loaded_at timestamptz not null default now()
);
create table if not exists raw.salesforce_users (like raw.salesforce_leads including all);
create table if not exists raw.salesforce_accounts (like raw.salesforce_leads including all);
create table if not exists raw.salesforce_contacts (like raw.salesforce_leads including all);
create table if not exists raw.salesforce_opportunities (like raw.salesforce_leads including all);
create table if not exists raw.salesforce_opportunity_contact_roles (like raw.salesforce_leads including all);
create table if not exists raw.salesforce_tasks (like raw.salesforce_leads including all);
create table if not exists raw.salesforce_events (like raw.salesforce_leads including all);
create table if not exists raw.salesforce_campaigns (like raw.salesforce_leads including all);
create table if not exists raw.salesforce_campaign_members (like raw.salesforce_leads including all);
create table if not exists raw.salesforce_lead_history (like raw.salesforce_leads including all);

-- The activities int_activities reads hourly, by load time.
create index if not exists salesforce_tasks_loaded_idx on raw.salesforce_tasks (_loaded_at);
create index if not exists salesforce_events_loaded_idx on raw.salesforce_events (_loaded_at);
create index if not exists salesforce_campaign_members_loaded_idx on raw.salesforce_campaign_members (_loaded_at);
