{#- One row per non-archived contact: current stage (with its entry time from the history log),
    scores, grade, the reasons text and CRM context. -#}
with

contacts as (

    select * from {{ ref('int_contacts_enriched') }}

),

stages as (

    select * from {{ ref('int_lead_stages_assigned') }}

),

history as (

    select * from {{ ref('fct_lead_stage_history') }}

),

reasons as (

    select * from {{ ref('int_lead_reasons_summarized') }}

),

engagement as (

    select * from {{ ref('int_contact_engagement_scored') }}

),

deals as (

    select * from {{ ref('int_contact_deals_summarized') }}

),

lifecycle_stage_mapping as (

    select * from {{ ref('lifecycle_stage_mapping') }}

),

settings as (

    select * from {{ ref('int_scoring_settings_pivoted') }}

),

latest_history as (

    select distinct on (history.contact_id)
        history.contact_id,
        history.from_stage,
        history.to_stage,
        history.stage_entered_at
    from history
    where history.observed_at <= {{ as_of() }}  -- a literal: see fct_lead_sla
    order by history.contact_id asc, history.observed_at desc

),

final as (

    select
        contacts.contact_id,
        contacts.email,
        contacts.first_name,
        contacts.last_name,
        contacts.job_title,
        contacts.company_id,
        contacts.company_name,
        contacts.industry,
        contacts.number_of_employees,
        contacts.country,
        contacts.analytics_source,
        contacts.owner_id,
        contacts.owner_email,
        contacts.lead_status as current_lead_status,
        contacts.current_lifecyclestage,
        stages.leadflow_stage,
        lifecycle_stage_mapping.hubspot_lifecyclestage as lifecyclestage,
        {{ with_stage_before(
            'stages.stage_reason',
            'case when latest_history.to_stage = stages.leadflow_stage then latest_history.from_stage end'
        ) }} as stage_reason,
        case
            when latest_history.to_stage = stages.leadflow_stage then latest_history.stage_entered_at
            else stages.stage_computed_at
        end as leadflow_stage_entered_at,
        stages.disqualification_reason,
        stages.leadflow_score,
        stages.fit_score,
        stages.engagement_score,
        stages.fit_grade as leadflow_fit_grade,
        coalesce(reasons.leadflow_reasons, 'no scoring signals') as leadflow_reasons,
        engagement.last_engaged_at,
        engagement.last_hand_raise_at,
        coalesce(deals.open_deal_count, 0) as open_deal_count,
        coalesce(deals.won_deal_count, 0) as won_deal_count,
        contacts.created_at,
        settings.rules_hash,
        settings.as_of
    from contacts
    cross join settings
    inner join stages on contacts.contact_id = stages.contact_id
    left join lifecycle_stage_mapping on stages.leadflow_stage = lifecycle_stage_mapping.leadflow_stage
    left join latest_history on contacts.contact_id = latest_history.contact_id
    left join reasons on contacts.contact_id = reasons.contact_id
    left join engagement on contacts.contact_id = engagement.contact_id
    left join deals on contacts.contact_id = deals.contact_id

)

select * from final
