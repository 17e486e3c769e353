{#- Per contact with events: engagement score 0–100 at as_of (capped activity points + inactivity
    penalty, clamped), engagement/hand-raise timestamps and the event-based disqualification. -#}
with

activities as (

    select * from {{ ref('int_contact_activities_scored') }}

),

settings as (

    select * from {{ ref('int_scoring_settings') }}

),

event_facts as (

    select
        activities.contact_id,
        max(activities.last_engaged_at) as last_engaged_at,
        max(activities.last_occurred_at) filter (where activities.is_hand_raise) as last_hand_raise_at,
        min(hand_raise.occurred_at) filter (
            where hand_raise.occurred_at >= settings.as_of - make_interval(days => cast(settings.sql_hand_raise_window_days as integer))
        ) as first_recent_hand_raise_at,
        (
            array_agg(activities.disqualification_reason order by activities.last_occurred_at desc, activities.activity_key desc)
            filter (where activities.disqualification_reason is not null)
        )[1] as event_disqualification_reason,
        max(activities.last_occurred_at) filter (where activities.disqualification_reason is not null) as event_disqualified_at
    from activities
    cross join settings
    left join lateral (
        select cast(hand_raise_time as timestamp with time zone) as occurred_at
        from jsonb_array_elements_text(activities.hand_raise_times) as hand_raise_time
    ) as hand_raise on true
    group by activities.contact_id

),

inactivity as (

    select
        event_facts.contact_id,
        case
            when
                event_facts.last_engaged_at is null
                or event_facts.last_engaged_at < settings.as_of - make_interval(days => cast(settings.inactivity_after_days as integer))
                then settings.inactivity_points
            else 0
        end as points
    from event_facts
    cross join settings

),

activity_totals as (

    select
        contact_id,
        sum(capped_points) as activity_points,
        sum(capped_points_at_last_engagement) as activity_points_at_last_engagement
    from activities
    group by contact_id

),

final as (

    select
        event_facts.contact_id,
        cast({{ clamp('round(coalesce(activity_totals.activity_points, 0) + inactivity.points)') }} as integer) as engagement_score,
        cast({{ clamp('round(coalesce(activity_totals.activity_points_at_last_engagement, 0))') }} as integer)
            as engagement_score_at_last_engagement,
        round(coalesce(activity_totals.activity_points, 0), 4) as activity_points,
        inactivity.points as inactivity_points,
        event_facts.last_engaged_at,
        event_facts.last_hand_raise_at,
        event_facts.first_recent_hand_raise_at,
        event_facts.first_recent_hand_raise_at is not null as has_recent_hand_raise,
        event_facts.event_disqualification_reason,
        event_facts.event_disqualified_at
    from event_facts
    left join activity_totals on event_facts.contact_id = activity_totals.contact_id
    inner join inactivity on event_facts.contact_id = inactivity.contact_id

)

select * from final
