{#- int_contact_activities_scored's select; with `sums` (a CTE of some rows of
    int_contact_activities_summed), over those rows only, picked before any point is decayed (a
    filter on the view would decay every row first: it is not merged into its reader's plan). -#}
{% macro activities_scored(sums=none) -%}
with

activities as (

    select * from {{ sums or ref('int_contact_activities_summed') }}

),

settings as (

    select * from {{ ref('int_scoring_settings_pivoted') }}

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
        decays,
        decayed_points,
        {{ capped('decayed_points') }} as capped_points,
        {{ capped('points_at_last_engagement') }} as capped_points_at_last_engagement
    from decayed

)

select * from final
{%- endmacro %}
