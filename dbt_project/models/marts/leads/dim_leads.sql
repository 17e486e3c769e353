{#- One row per lead with its lifecycle from the history log: first/latest MQL and SQL dates, re-MQL
    count, time in the current stage and funnel milestones. first_reached_<stage>_at is the first entry
    into that stage OR any later funnel stage (stages skipped, or passed before history began, take the
    entry time of the next stage reached), so the funnel is monotone. -#}
with

qualification as (

    select * from {{ ref('fct_lead_qualification') }}

),

history as (

    select * from {{ ref('fct_lead_stage_history') }}

),

lifecycle_stage_mapping as (

    select * from {{ ref('lifecycle_stage_mapping') }}

),

history_ordered as (

    select
        history.*,
        lifecycle_stage_mapping.funnel_order
    from history
    left join lifecycle_stage_mapping on history.to_stage = lifecycle_stage_mapping.leadflow_stage
    where history.observed_at <= {{ as_of() }}  -- a literal: see fct_lead_sla

),

milestones as (

    select
        contact_id,
        min(stage_entered_at) filter (where funnel_order >= {{ funnel_order_of('lead') }}) as first_reached_lead_at,
        min(stage_entered_at) filter (where funnel_order >= {{ funnel_order_of('mql') }}) as first_reached_mql_at,
        min(stage_entered_at) filter (where funnel_order >= {{ funnel_order_of('sal') }}) as first_reached_sal_at,
        min(stage_entered_at) filter (where funnel_order >= {{ funnel_order_of('sql') }}) as first_reached_sql_at,
        min(stage_entered_at) filter (where funnel_order >= {{ funnel_order_of('opportunity') }}) as first_reached_opportunity_at,
        min(stage_entered_at) filter (where funnel_order >= {{ funnel_order_of('customer') }}) as first_reached_customer_at,
        min(stage_entered_at) filter (where to_stage = 'mql') as first_mql_at,
        max(stage_entered_at) filter (where to_stage = 'mql') as latest_mql_at,
        min(stage_entered_at) filter (where to_stage = 'sql') as first_sql_at,
        max(stage_entered_at) filter (where to_stage = 'sql') as latest_sql_at,
        min(stage_entered_at) filter (where to_stage = 'nurture') as first_nurture_at,
        count(*) filter (where to_stage = 'mql') as mql_entry_count,
        count(*) filter (where to_stage = 'sql') as sql_entry_count,
        count(*) filter (where to_stage = 'nurture') as nurture_entry_count,
        count(*) filter (where from_stage is not null) as stage_change_count,
        min(observed_at) as first_observed_at,
        (array_agg(leadflow_score order by observed_at asc) filter (where funnel_order >= {{ funnel_order_of('mql') }}))[1]
            as leadflow_score_at_first_mql
    from history_ordered
    group by contact_id

),

final as (

    select
        qualification.contact_id,
        qualification.email,
        qualification.company_name,
        qualification.analytics_source,
        qualification.owner_id,
        qualification.leadflow_stage,
        qualification.leadflow_stage_entered_at,
        round(cast(extract(epoch from (qualification.as_of - qualification.leadflow_stage_entered_at)) / 86400.0 as numeric), 2)
            as days_in_current_stage,
        qualification.disqualification_reason,
        qualification.leadflow_score,
        qualification.fit_score,
        qualification.engagement_score,
        qualification.leadflow_fit_grade,
        coalesce(milestones.leadflow_score_at_first_mql, qualification.leadflow_score) as leadflow_score_for_banding,
        qualification.created_at,
        milestones.first_observed_at,
        milestones.first_reached_lead_at,
        milestones.first_reached_mql_at,
        milestones.first_reached_sal_at,
        milestones.first_reached_sql_at,
        milestones.first_reached_opportunity_at,
        milestones.first_reached_customer_at,
        milestones.first_mql_at,
        milestones.latest_mql_at,
        milestones.first_sql_at,
        milestones.latest_sql_at,
        milestones.first_nurture_at,
        coalesce(milestones.mql_entry_count, 0) as mql_entry_count,
        greatest(coalesce(milestones.mql_entry_count, 0) - 1, 0) as re_mql_count,
        coalesce(milestones.sql_entry_count, 0) as sql_entry_count,
        coalesce(milestones.nurture_entry_count, 0) as nurture_entry_count,
        coalesce(milestones.stage_change_count, 0) as stage_change_count,
        milestones.first_reached_lead_at is not null as reached_lead,
        milestones.first_reached_mql_at is not null as reached_mql,
        milestones.first_reached_sal_at is not null as reached_sal,
        milestones.first_reached_sql_at is not null as reached_sql,
        milestones.first_reached_opportunity_at is not null as reached_opportunity,
        milestones.first_reached_customer_at is not null as reached_customer,
        {{ days_between('qualification.created_at', 'milestones.first_reached_mql_at') }} as days_created_to_mql,
        {{ days_between('milestones.first_reached_mql_at', 'milestones.first_reached_sql_at') }} as days_mql_to_sql,
        {{ days_between('milestones.first_reached_sql_at', 'milestones.first_reached_opportunity_at') }}
            as days_sql_to_opportunity,
        {{ days_between('milestones.first_reached_opportunity_at', 'milestones.first_reached_customer_at') }}
            as days_opportunity_to_customer,
        qualification.as_of
    from qualification
    left join milestones on qualification.contact_id = milestones.contact_id

)

select * from final
