{#- Response-time SLAs, one row per lead and SLA type:
    - mql_to_sal: from the first entry into mql to the first entry into sal or a later funnel stage.
    - sql_first_touch: from the first entry into sql to the first touch by an owner after it: a call,
      a meeting or an outgoing email logged on the person (seed activity_types' is_sales_touch).
    status: met (responded within sla_hours), breached (responded late, or no response and the deadline
    passed at as_of), pending (no response yet, deadline not passed). -#}
with

history as (

    select * from {{ ref('fct_lead_stage_history') }}

),

contacts as (

    select * from {{ ref('int_contacts_enriched') }}

),

touches as (

    select * from {{ ref('int_activities_classified') }}
    where is_sales_touch

),

lifecycle_stage_mapping as (

    select * from {{ ref('lifecycle_stage_mapping') }}

),

settings as (

    select * from {{ ref('int_scoring_settings_pivoted') }}

),

history_ordered as (

    select
        history.*,
        lifecycle_stage_mapping.funnel_order
    from history
    left join lifecycle_stage_mapping on history.to_stage = lifecycle_stage_mapping.leadflow_stage
    -- as_of as a literal (not settings.as_of) in the history filters here and in
    -- fct_lead_qualification and dim_leads: the planner then knows nearly every row passes and
    -- scans the table. With an unknown value it expected a third of the rows and read them
    -- through the contact index.
    where history.observed_at <= {{ as_of() }}

),

starts as (

    select
        contact_id,
        min(stage_entered_at) filter (where to_stage = 'mql') as mql_at,
        min(stage_entered_at) filter (where to_stage = 'sql') as sql_at
    from history_ordered
    group by contact_id

),

mql_to_sal as (

    select
        starts.contact_id,
        'mql_to_sal' as sla_type,
        starts.mql_at as started_at,
        min(history_ordered.stage_entered_at) as responded_at,
        settings.sla_mql_to_sal_hours as sla_hours
    from starts
    cross join settings
    left join history_ordered
        on
            starts.contact_id = history_ordered.contact_id
            and history_ordered.funnel_order >= {{ funnel_order_of('sal') }}
            and starts.mql_at <= history_ordered.stage_entered_at
    where starts.mql_at is not null
    group by starts.contact_id, starts.mql_at, settings.sla_mql_to_sal_hours

),

sql_touches as (

    select
        starts.contact_id,
        touches.occurred_at as touched_at
    from starts
    inner join touches on starts.contact_id = touches.contact_id
    where starts.sql_at is not null and touches.occurred_at >= starts.sql_at

),

sql_first_touch as (

    select
        starts.contact_id,
        'sql_first_touch' as sla_type,
        starts.sql_at as started_at,
        min(sql_touches.touched_at) filter (where sql_touches.touched_at <= settings.as_of) as responded_at,
        settings.sla_sql_first_touch_hours as sla_hours
    from starts
    cross join settings
    left join sql_touches on starts.contact_id = sql_touches.contact_id
    where starts.sql_at is not null
    group by starts.contact_id, starts.sql_at, settings.sla_sql_first_touch_hours

),

unioned as (

    select * from mql_to_sal
    union all
    select * from sql_first_touch

),

statused as (

    select
        md5(cast(unioned.contact_id as text) || '|' || unioned.sla_type) as sla_id,
        unioned.contact_id,
        unioned.sla_type,
        unioned.started_at,
        unioned.started_at + make_interval(hours => cast(unioned.sla_hours as integer)) as sla_deadline_at,
        unioned.responded_at,
        cast(unioned.sla_hours as integer) as sla_hours,
        round(cast(extract(epoch from (unioned.responded_at - unioned.started_at)) / 3600.0 as numeric), 2)
            as response_hours,
        case
            when unioned.responded_at <= unioned.started_at + make_interval(hours => cast(unioned.sla_hours as integer))
                then 'met'
            when unioned.responded_at is not null then 'breached'
            when settings.as_of > unioned.started_at + make_interval(hours => cast(unioned.sla_hours as integer))
                then 'breached'
            else 'pending'
        end as sla_status,
        settings.as_of
    from unioned
    cross join settings
    inner join contacts on unioned.contact_id = contacts.contact_id

),

final as (

    select
        sla_id,
        contact_id,
        sla_type,
        started_at,
        sla_deadline_at,
        responded_at,
        sla_hours,
        response_hours,
        sla_status,
        sla_status = 'breached' as is_breached,
        as_of
    from statused

)

select * from final
