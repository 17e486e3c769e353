{#- Fit score 0–100 (sum of the contact's fit signals, clamped), grade from fit_grades and the
    fit-based disqualification reason (from the highest-priority disqualifying rule).

    Incremental per contact, like int_contact_fit_signals_matched and on the same key: a contact's fit
    changes only with its fit_input_hash or the rules, so an hourly build scores again only the
    contacts whose hash changed or that are new (about the hour's changed contacts), not all of
    them. The pre-hook (drop_stale_fit_rows, as in int_contact_fit_signals_matched) empties the table when
    the rules changed and drops the rows of contacts whose hash changed or that left
    int_contacts_enriched; the build scores every contact without a row.
    int_contact_fit_signals_matched, built before, matched exactly those contacts again. -#}
{{
    config(
        materialized='incremental',
        unique_key='contact_id',
        pre_hook=["{% if is_incremental() %}
            {{ drop_stale_fit_rows() }}
        {% endif %}"],
        post_hook=["{{ vacuum_hourly() }}"]
    )
}}

with

settings as (

    select * from {{ ref('int_scoring_settings_pivoted') }}

),

contacts as (

    {{ contacts_without_fit_rows() }}

),

fit_grades as (

    select * from {{ ref('fit_grades') }}

),

signal_totals as (

    -- The sum is a hash aggregate and the reason (below) a pick among the few disqualifying rows:
    -- one ordered aggregate for both sorted every signal. Each reads the table itself: a CTE read
    -- twice would be copied first. An hourly build reads only the signals of the contacts it scores.
    select
        contact_id,
        sum(points) as fit_points
    from {{ ref('int_contact_fit_signals_matched') }}
    {% if is_incremental() %}
        where contact_id in (select contacts.contact_id from contacts)
    {% endif %}
    group by contact_id

),

fit_disqualifications as (

    select distinct on (contact_id)
        contact_id,
        disqualification_reason
    from {{ ref('int_contact_fit_signals_matched') }}
    where
        disqualification_reason is not null
        {% if is_incremental() %}
            and contact_id in (select contacts.contact_id from contacts)
        {% endif %}
    order by contact_id asc, priority asc, rule_id asc

),

scored as (

    select
        contacts.contact_id,
        contacts.fit_input_hash,
        coalesce(signal_totals.fit_points, 0) as fit_points,
        cast({{ clamp('coalesce(signal_totals.fit_points, 0)') }} as integer) as fit_score,
        fit_disqualifications.disqualification_reason as fit_disqualification_reason
    from contacts
    left join signal_totals on contacts.contact_id = signal_totals.contact_id
    left join fit_disqualifications on contacts.contact_id = fit_disqualifications.contact_id

),

final as (

    select distinct on (scored.contact_id)
        scored.contact_id,
        scored.fit_points,
        scored.fit_score,
        coalesce(fit_grades.grade, 'D') as fit_grade,
        scored.fit_disqualification_reason,
        scored.fit_input_hash,
        settings.rules_hash,
        settings.as_of as built_as_of
    from scored
    cross join settings
    left join fit_grades on scored.fit_score >= fit_grades.min_fit_score
    order by scored.contact_id asc, fit_grades.min_fit_score desc nulls last

)

select * from final
