{#- Per contact and activity_key: events up to as_of, points decayed by age at as_of
    (points * 0.5 ^ (age_days / half_life_days) when the rule decays), summed and capped at ±cap_points.
    Also the same sum decayed to the contact's last engagement time (the score the contact had when it
    went quiet), used to decide whether a cold contact had been qualified. -#}
with

events as (

    select * from {{ ref('int_events_classified') }}
    where activity_key is not null

),

settings as (

    select * from {{ ref('int_scoring_settings') }}

),

in_scope as (

    select
        events.*,
        settings.as_of,
        settings.half_life_days,
        max(events.occurred_at) filter (where events.counts_as_engagement)
            over (partition by events.contact_id) as last_engaged_at
    from events
    cross join settings
    where events.occurred_at <= settings.as_of

),

decayed as (

    select
        contact_id,
        activity_key,
        label,
        cap_points,
        is_hand_raise,
        occurred_at,
        last_engaged_at,
        case
            when decays
                then points * power(0.5, extract(epoch from (as_of - occurred_at)) / 86400.0 / half_life_days)
            else points
        end as decayed_points,
        case
            when occurred_at > last_engaged_at then 0
            when decays
                then points * power(0.5, extract(epoch from (last_engaged_at - occurred_at)) / 86400.0 / half_life_days)
            else points
        end as points_at_last_engagement
    from in_scope

),

summed as (

    select
        contact_id,
        activity_key,
        max(label) as label,
        max(cap_points) as cap_points,
        bool_or(is_hand_raise) as is_hand_raise,
        count(*) as event_count,
        min(occurred_at) as first_occurred_at,
        max(occurred_at) as last_occurred_at,
        sum(decayed_points) as decayed_points,
        sum(points_at_last_engagement) as points_at_last_engagement
    from decayed
    group by contact_id, activity_key

),

final as (

    select
        contact_id,
        activity_key,
        label,
        is_hand_raise,
        event_count,
        first_occurred_at,
        last_occurred_at,
        cap_points,
        cast(decayed_points as numeric(14, 4)) as decayed_points,
        cast(case
            when cap_points is null then decayed_points
            when decayed_points >= 0 then least(decayed_points, cap_points)
            else greatest(decayed_points, -cap_points)
        end as numeric(14, 4)) as capped_points,
        cast(case
            when cap_points is null then points_at_last_engagement
            when points_at_last_engagement >= 0 then least(points_at_last_engagement, cap_points)
            else greatest(points_at_last_engagement, -cap_points)
        end as numeric(14, 4)) as capped_points_at_last_engagement
    from summed

)

select * from final
