{#- Per contact and activity_key: points decayed to as_of (the stored sum at the activity's last event,
    halved per half_life_days since then when the rule decays) and capped at ±cap_points; also the
    sum as it stood at the contact's last engagement (the score it had when it went quiet), used to
    decide whether a cold contact had been qualified. One pass over int_contact_activities_summed:
    no event is read here. Points stay float8: a numeric cast per row cost 0.5 µs (3 s per read of
    6M rows at 1M contacts); readers cast their per-contact sums instead. -#}
with

activities as (

    select * from {{ ref('int_contact_activities_summed') }}

),

settings as (

    select * from {{ ref('int_scoring_settings') }}

),

decayed as (

    select
        activities.*,
        {{ decayed_points('activities.points_at_last_occurrence', 'settings.as_of - activities.last_occurred_at') }}
            as decayed_points
    from activities
    cross join settings

),

final as (

    select
        contact_id,
        activity_key,
        label,
        is_hand_raise,
        counts_as_engagement,
        disqualification_reason,
        event_count,
        first_occurred_at,
        last_occurred_at,
        last_engaged_at,
        hand_raise_times,
        cap_points,
        decayed_points,
        {{ capped('decayed_points') }} as capped_points,
        {{ capped('points_at_last_engagement') }} as capped_points_at_last_engagement
    from decayed

)

select * from final
