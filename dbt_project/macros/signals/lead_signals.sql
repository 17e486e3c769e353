{#- int_lead_signals_listed's select; with `contacts` (a CTE or relation with contact_id) and `sums` (a
    CTE of those contacts' rows of int_contact_activities_summed), only those contacts' signals,
    each source filtered before its texts and points are computed. -#}
{% macro lead_signals(contacts=none, sums=none) -%}
{%- set activities_scored_rows = '(' ~ activities_scored(sums=sums) ~ ') as scored' if sums
    else ref('int_contact_activities_scored') -%}
select
    contact_id,
    signal_category,
    signal_key,
    case when points > 0 then 'positive' else 'negative' end as direction,
    points,
    label,
    event_count,
    signal_at,
    seconds_valid,
    case when points > 0 then '+' else '' end || points || ' ' || label
    || case when event_count > 1 then ' x' || event_count else '' end
    || case when signal_at is not null then ' (' || to_char(signal_at at time zone 'UTC', 'YYYY-MM-DD') || ')' else '' end
        as signal_text
from (

    select
        contact_id,
        'fit' as signal_category,
        rule_id as signal_key,
        label,
        points,
        cast(null as bigint) as event_count,
        cast(null as timestamp with time zone) as signal_at,
        cast(null as float8) as seconds_valid
    from {{ ref('int_contact_fit_signals_matched') }}
    {%- if contacts %}
    where contact_id in (select contact_id from {{ contacts }})
    {%- endif %}

    union all

    select
        activities.contact_id,
        'engagement' as signal_category,
        activities.activity_key as signal_key,
        activities.label,
        {{ round_half_away('activities.capped_points') }} as points,
        activities.event_count,
        activities.last_occurred_at as signal_at,
        -- decayed points fall below (rounded - 0.5) after half_life * log2(decayed / that)
        case
            when activities.decays and abs({{ round_half_away('activities.capped_points') }}) >= 1
                then {{ seconds_to_decay(
                    'ln(abs(activities.decayed_points) / (abs(' ~ round_half_away('activities.capped_points') ~ ') - 0.5))'
                ) }}
        end as seconds_valid
    from (
        -- offset 0 is a planner fence, not a row limit: capped_points is a power() call per
        -- row, and with this subquery inlined it would be evaluated at each of its mentions
        select
            contact_id,
            activity_key,
            label,
            decays,
            decayed_points,
            capped_points,
            event_count,
            last_occurred_at
        from {{ activities_scored_rows }}
        offset 0  -- noqa: AM09
    ) as activities
    cross join {{ ref('int_scoring_settings_pivoted') }} as settings

    union all

    -- every activity row of a contact carries the contact's last engagement (see
    -- int_contact_activities_summed), so only the rows of inactive contacts are grouped; the
    -- cutoff is a scalar subquery, so the scan compares with a constant. Taken from the sums,
    -- not from int_contact_engagement_scored, so that int_lead_reasons_summarized need not wait for it.
    select
        inactive.contact_id,
        'engagement' as signal_category,
        'inactivity' as signal_key,
        'no engagement for ' || settings.inactivity_after_days || '+ days' as label,
        cast(settings.inactivity_points as integer) as points,
        cast(null as bigint) as event_count,
        inactive.last_engaged_at as signal_at,
        cast(null as float8) as seconds_valid
    from (
        select
            summed.contact_id,
            max(summed.last_engaged_at) as last_engaged_at
        from {{ sums or ref('int_contact_activities_summed') }} as summed
        where
            (summed.last_engaged_at is null
            or summed.last_engaged_at < (
                select {{ inactivity_cutoff() }} from {{ ref('int_scoring_settings_pivoted') }} as settings
            ))
        group by summed.contact_id
    ) as inactive
    cross join {{ ref('int_scoring_settings_pivoted') }} as settings

) as unioned
where points <> 0
{%- endmacro %}
