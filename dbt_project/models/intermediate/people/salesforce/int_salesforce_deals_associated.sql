{#- Salesforce's deals in the shared vocabulary (int_contact_deals_summarized reads them where
    Salesforce is the CRM): one row per person and non-deleted Opportunity, linked through the
    person's contact roles or as the opportunity its lead was converted into. Open and won are
    Salesforce's own IsClosed and IsWon (set from the org's opportunity stages), so no seed maps
    StageName. Built where LEADFLOW_SOURCES lists salesforce. -#}
with

person_ids as (

    select * from {{ ref('int_salesforce_person_ids') }}

),

opportunities as (

    select * from {{ ref('stg_salesforce__opportunities') }}
    where not is_archived

),

person_opportunity_links as (

    select
        person_ids.person_id,
        contact_roles.opportunity_id
    from {{ ref('stg_salesforce__opportunity_contact_roles') }} as contact_roles
    inner join person_ids on contact_roles.contact_id = person_ids.record_id
    where not contact_roles.is_archived

    union

    select
        person_ids.person_id,
        leads.converted_opportunity_id
    from {{ ref('stg_salesforce__leads') }} as leads
    inner join person_ids on leads.lead_id = person_ids.record_id
    where leads.converted_opportunity_id is not null

),

final as (

    select
        person_opportunity_links.person_id as contact_id,
        opportunities.opportunity_id as deal_id,
        opportunities.stage_name as deal_stage,
        opportunities.created_at,
        opportunities.close_date,
        opportunities.modified_at as last_modified_at,
        not coalesce(opportunities.is_closed, false) as is_open,
        coalesce(opportunities.is_won, false) as is_won
    from person_opportunity_links
    inner join opportunities on person_opportunity_links.opportunity_id = opportunities.opportunity_id

)

select * from final
