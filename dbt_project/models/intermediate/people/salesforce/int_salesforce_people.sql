{#- One row per Salesforce person in the shared layer's people vocabulary (int_contacts_enriched
    reads them where Salesforce is the CRM), keyed by the person's number
    (int_salesforce_person_numbers). A person is its Contact once converted, else its Lead: the
    Contact's fields and Account win, the lead's status and source are kept (a contact has
    neither), and the record leadflow writes is the Contact (a converted lead is read-only in
    Salesforce). A Contact several leads were converted into keeps the latest lead's status. A
    person whose record is deleted or merged away is gone (int_salesforce_person_merges moves
    it to the survivor's person). Built where LEADFLOW_SOURCES lists salesforce. -#}
{#- a view: int_contacts_enriched, a table rebuilt every hour, is where its rows are written -#}
{{ config(materialized='view') }}

with

records as (

    select * from {{ ref('int_salesforce_person_records') }}

),

people as (

    select * from {{ ref('int_salesforce_person_numbers') }}
    where not is_gone

),

leads as (

    select * from {{ ref('stg_salesforce__leads') }}

),

contacts as (

    select * from {{ ref('stg_salesforce__contacts') }}

),

accounts as (

    select * from {{ ref('stg_salesforce__accounts') }}
    where not is_archived

),

users as (

    select * from {{ ref('stg_salesforce__users') }}

),

latest_lead as (

    select distinct on (records.person_key)
        records.person_key,
        leads.*
    from records
    inner join leads on records.record_id = leads.lead_id
    where records.record_type = 'Lead' and not leads.is_archived
    order by records.person_key asc, leads.created_at desc nulls last, leads.lead_id desc

),

-- the record leadflow writes, as last read: what it holds of leadflow's fields (the push's
-- drift check reads them here, leadflow.sources.Crm.held_relation)
written as (

    select
        contact_id as record_id,
        loaded_at,
        crm_leadflow_stage,
        crm_leadflow_score,
        crm_leadflow_fit_grade,
        crm_leadflow_reasons,
        crm_leadflow_stage_entered_at,
        crm_leadflow_stage_reason
    from contacts
    union all
    select
        lead_id as record_id,
        loaded_at,
        crm_leadflow_stage,
        crm_leadflow_score,
        crm_leadflow_fit_grade,
        crm_leadflow_reasons,
        crm_leadflow_stage_entered_at,
        crm_leadflow_stage_reason
    from leads

),

first_created as (

    select
        records.person_key,
        min(coalesce(leads.created_at, contacts.created_at)) as created_at,
        -- when its status was last set, not its SystemModstamp: leadflow's own write-back (or
        -- any edit that sets no status) must not move the time a person entered SAL or nurture
        coalesce(max(status_changes.changed_at), min(coalesce(leads.created_at, contacts.created_at)))
            as last_modified_at
    from records
    left join leads on records.record_id = leads.lead_id
    left join contacts on records.record_id = contacts.contact_id
    left join {{ ref('stg_salesforce__lead_history') }} as status_changes
        on
            records.record_id = status_changes.lead_id
            and status_changes.field_name = 'Status'
            and not status_changes.is_archived
    group by records.person_key

),

joined as (

    select
        people.person_id as contact_id,
        people.person_key as crm_record_id,
        people.record_type as crm_record_type,
        coalesce(contacts.email, latest_lead.email) as email,
        coalesce(contacts.first_name, latest_lead.first_name) as first_name,
        coalesce(contacts.last_name, latest_lead.last_name) as last_name,
        coalesce(contacts.job_title, latest_lead.job_title) as job_title,
        coalesce(contacts.phone, latest_lead.phone) as phone,
        coalesce(contacts.country, latest_lead.country, accounts.country) as country,
        coalesce(contacts.city, latest_lead.city) as city,
        coalesce(accounts.account_name, latest_lead.company_name) as company_name,
        coalesce(accounts.website, latest_lead.website) as website,
        accounts.account_id as company_id,
        coalesce(accounts.industry, latest_lead.industry) as industry,
        coalesce(accounts.employees, latest_lead.employees) as number_of_employees,
        accounts.annual_revenue,
        cast(null as text) as current_lifecyclestage,
        latest_lead.lead_status,
        coalesce(contacts.owner_id, latest_lead.owner_id) as owner_id,
        users.email as owner_email,
        coalesce(users.is_active, false) as has_owner,
        latest_lead.lead_source as analytics_source,
        coalesce(contacts.has_opted_out_of_email, latest_lead.has_opted_out_of_email, false)
            as has_opted_out_of_email,
        -- no standard BANT fields on a Lead or Contact
        cast(null as text) as bant_budget,
        cast(null as text) as bant_authority,
        cast(null as text) as bant_need,
        cast(null as text) as bant_timeframe,
        first_created.created_at,
        first_created.last_modified_at,
        written.loaded_at,
        false as is_archived,
        written.crm_leadflow_stage,
        written.crm_leadflow_score,
        written.crm_leadflow_fit_grade,
        written.crm_leadflow_reasons,
        written.crm_leadflow_stage_entered_at,
        written.crm_leadflow_stage_reason
    from people
    left join contacts on people.person_key = contacts.contact_id
    left join latest_lead on people.person_key = latest_lead.person_key
    left join accounts on contacts.account_id = accounts.account_id
    left join users on coalesce(contacts.owner_id, latest_lead.owner_id) = users.user_id
    left join first_created on people.person_key = first_created.person_key
    left join written on people.person_key = written.record_id

)

select * from joined
