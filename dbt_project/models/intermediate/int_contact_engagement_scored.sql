{#- Per contact with events: engagement score 0–100 at as_of (capped activity points + inactivity
    penalty, clamped), engagement/hand-raise timestamps and the event-based disqualification. -#}
{#- int_contact_activities_scored is a view; each CTE below reads it directly so the filters on the two
    small subsets (hand-raise and disqualifying activities) reach its table instead of a shared
    materialized copy of every row. -#}
with

activity_totals as (

    select
        contact_id,
        max(last_engaged_at) as last_engaged_at,
        max(last_occurred_at) filter (where is_hand_raise) as last_hand_raise_at,
        max(last_occurred_at) filter (where disqualification_reason is not null) as event_disqualified_at,
        cast(sum(capped_points) as numeric) as activity_points,
        cast(sum(capped_points_at_last_engagement) as numeric) as activity_points_at_last_engagement
    from {{ ref('int_contact_activities_scored') }}
    group by contact_id

),

settings as (

    select * from {{ ref('int_scoring_settings') }}

),

recent_hand_raises as (

    select
        activities.contact_id,
        min(cast(hand_raise.occurred_at as timestamp with time zone)) as first_recent_hand_raise_at
    from {{ ref('int_contact_activities_scored') }} as activities
    cross join jsonb_array_elements_text(activities.hand_raise_times) as hand_raise (occurred_at)
    cross join settings
    where
        activities.hand_raise_times is not null
        and cast(hand_raise.occurred_at as timestamp with time zone)
        >= settings.as_of - make_interval(days => cast(settings.sql_hand_raise_window_days as integer))
    group by activities.contact_id

),

disqualifications as (

    select distinct on (contact_id)
        contact_id,
        disqualification_reason
    from {{ ref('int_contact_activities_scored') }}
    where disqualification_reason is not null
    order by contact_id asc, last_occurred_at desc, activity_key desc

),

-- one chain of CTEs, each read once: a CTE read twice is materialized, and joining event_facts
-- back to itself cost about 3 s at 1M contacts
event_facts as (

    select
        activity_totals.*,
        recent_hand_raises.first_recent_hand_raise_at,
        disqualifications.disqualification_reason as event_disqualification_reason,
        {{ inactivity_points('activity_totals.last_engaged_at') }} as inactivity_points
    from activity_totals
    cross join settings
    left join recent_hand_raises on activity_totals.contact_id = recent_hand_raises.contact_id
    left join disqualifications on activity_totals.contact_id = disqualifications.contact_id

),

final as (

    select
        contact_id,
        cast({{ clamp('round(coalesce(activity_points, 0) + inactivity_points)') }} as integer) as engagement_score,
        cast({{ clamp('round(coalesce(activity_points_at_last_engagement, 0))') }} as integer)
            as engagement_score_at_last_engagement,
        round(coalesce(activity_points, 0), 4) as activity_points,
        inactivity_points,
        last_engaged_at,
        last_hand_raise_at,
        first_recent_hand_raise_at,
        first_recent_hand_raise_at is not null as has_recent_hand_raise,
        event_disqualification_reason,
        event_disqualified_at
    from event_facts

)

select * from final
