{#- Per contact in `events` (a CTE or relation of classified events): the last event up to as_of
    that counts as engagement (null when none). Needs a `settings` CTE. as_of is checked in the
    aggregate's filter, not in a where clause the planner could answer from the occurred_at index:
    over millions of events that index scan is far slower than a sequential scan. -#}
{% macro last_engagements(events) -%}
    select
        engaging.contact_id,
        max(engaging.occurred_at) filter (
            where engaging.counts_as_engagement and engaging.occurred_at <= settings.as_of
        ) as last_engaged_at
    from {{ events }} as engaging
    cross join settings
    where engaging.activity_key is not null
    group by engaging.contact_id
{%- endmacro %}

{#- One row per contact and activity_key from the classified events in `events` (a CTE or relation)
    that are in scope at as_of: counts, first/last times, points decayed to the activity's last event and to
    the contact's last engagement (from `engagement`, a CTE of contact_id, last_engaged_at), and
    hand-raise times. Points are summed decayed to as_of and carried back to those times, so one
    hash aggregate does it (no per-contact window sorts over millions of events). Needs `settings`. -#}
{% macro activity_sums(events, engagement) -%}
    select
        grouped.contact_id,
        grouped.activity_key,
        grouped.label,
        grouped.cap_points,
        grouped.decays,
        grouped.is_hand_raise,
        grouped.counts_as_engagement,
        grouped.disqualification_reason,
        grouped.event_count,
        grouped.first_occurred_at,
        grouped.last_occurred_at,
        grouped.last_engaged_at,
        {{ decayed_points('grouped.points_at_as_of', 'grouped.last_occurred_at - settings.as_of') }}
            as points_at_last_occurrence,
        coalesce(
            {{ decayed_points('grouped.engaged_points_at_as_of', 'grouped.last_engaged_at - settings.as_of') }}, 0
        ) as points_at_last_engagement,
        {{ sorted_times('grouped.hand_raise_times') }} as hand_raise_times,
        grouped.rules_hash,
        grouped.last_loaded_at
    from (
        select
            scoped.contact_id,
            scoped.activity_key,
            max(scoped.label) as label,
            max(scoped.cap_points) as cap_points,
            bool_or(scoped.decays) as decays,
            bool_or(scoped.is_hand_raise) as is_hand_raise,
            bool_or(scoped.counts_as_engagement) as counts_as_engagement,
            max(scoped.disqualification_reason) as disqualification_reason,
            count(*) as event_count,
            min(scoped.occurred_at) as first_occurred_at,
            max(scoped.occurred_at) as last_occurred_at,
            max({{ engagement }}.last_engaged_at) as last_engaged_at,
            sum({{ decayed_points('scoped.points', 'settings.as_of - scoped.occurred_at') }}) as points_at_as_of,
            sum({{ decayed_points('scoped.points', 'settings.as_of - scoped.occurred_at') }})
                filter (where scoped.occurred_at <= {{ engagement }}.last_engaged_at) as engaged_points_at_as_of,
            jsonb_agg(scoped.occurred_at) filter (where scoped.is_hand_raise) as hand_raise_times,
            max(scoped.rules_hash) as rules_hash,
            max(scoped.loaded_at) as last_loaded_at
        from {{ events }} as scoped
        cross join settings
        inner join {{ engagement }} on scoped.contact_id = {{ engagement }}.contact_id
        where scoped.activity_key is not null and scoped.occurred_at <= settings.as_of
        group by scoped.contact_id, scoped.activity_key
    ) as grouped
    cross join settings
{%- endmacro %}

{#- A JSON array of timestamps in time order (null stays null). Aggregated unordered first, because
    an ordered aggregate would force a sort of every event. -#}
{% macro sorted_times(times) -%}
    (
        select jsonb_agg(event_time order by cast(event_time #>> '{}' as timestamp with time zone))
        from jsonb_array_elements({{ times }}) as event_time
    )
{%- endmacro %}
