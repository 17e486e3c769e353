{#- points * 0.5 ^ (age / half_life_days) when the row's rule decays, else points; `age` is an
    interval expression and the row must carry `decays` and `half_life_days`. float8 on purpose:
    numeric power() is about ten times slower over millions of events, and date_part() returns
    float8 where extract() computes a numeric (6M rows: 0.7 s against 1.3 s). -#}
{% macro decayed_points(points, age) -%}
    case
        when decays
            then {{ points }} * power(0.5::float8, date_part('epoch', {{ age }}) / 86400.0 / half_life_days::float8)
        else {{ points }}
    end
{%- endmacro %}

{#- `expr` capped at ±cap_points (no cap when the row's cap_points is null; cap_points >= 0, a seed
    test). `expr` appears once: a decayed sum is a power() call, and the planner inlines every
    occurrence of it (three in a case form, evaluated twice per row). -#}
{% macro capped(expr) -%}
    least(
        greatest({{ expr }}, -coalesce(cast(cap_points as float8), 'Infinity')),
        coalesce(cast(cap_points as float8), 'Infinity')
    )
{%- endmacro %}

{#- A float8 `expr` rounded to an integer, halves away from zero as numeric round() does (float8
    round() goes to even); no numeric cast per row. -#}
{% macro round_half_away(expr) -%}
    cast(sign({{ expr }}) * floor(abs({{ expr }}) + 0.5) as integer)
{%- endmacro %}

{#- Per contact in `events` (a CTE or relation of classified events): the last event up to as_of
    that counts as engagement (null when none). Needs a `settings` CTE. as_of is checked in the
    aggregate's filter, not in a where clause the planner could answer from the occurred_at index:
    over 20M events that index scan took 61 s where a sequential scan takes a few. -#}
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

{#- A contact whose last engagement lies before this time (or who never engaged) is inactive at
    as_of. Needs `settings`. -#}
{% macro inactivity_cutoff() -%}
    settings.as_of - make_interval(days => cast(settings.inactivity_after_days as integer))
{%- endmacro %}

{#- When the inactivity penalty of a contact whose last engagement was `last_engaged_at` starts:
    the time at which inactivity_cutoff() passes it. Needs `settings`. -#}
{% macro inactivity_starts_at(last_engaged_at) -%}
    {{ last_engaged_at }} + make_interval(days => cast(settings.inactivity_after_days as integer))
{%- endmacro %}

{#- Seconds until decaying points shrink by the factor exp(`ln_ratio`): they halve every
    half_life_days. Needs `settings`. -#}
{% macro seconds_to_decay(ln_ratio) -%}
    86400 * cast(settings.half_life_days as float8) * {{ ln_ratio }} / ln(2)
{%- endmacro %}

{#- The inactivity penalty at as_of of a contact with events whose last engagement was
    `last_engaged_at` (null: never), for the engagement score and for the signal that explains it.
    Needs `settings`. -#}
{% macro inactivity_points(last_engaged_at) -%}
    case
        when {{ last_engaged_at }} is null or {{ last_engaged_at }} < {{ inactivity_cutoff() }}
            then settings.inactivity_points
        else 0
    end
{%- endmacro %}
