{#- Fit score 0–100 (sum of the contact's fit signals, clamped), grade from fit_grades and the
    fit-based disqualification reason (from the highest-priority disqualifying rule). -#}
with

contacts as (

    select * from {{ ref('int_contacts_enriched') }}

),

fit_signals as (

    select * from {{ ref('int_contact_fit_signals') }}

),

fit_grades as (

    select * from {{ ref('fit_grades') }}

),

signal_totals as (

    select
        contact_id,
        sum(points) as fit_points,
        (
            array_agg(disqualification_reason order by priority asc, rule_id asc)
            filter (where disqualification_reason is not null)
        )[1] as fit_disqualification_reason
    from fit_signals
    group by contact_id

),

scored as (

    select
        contacts.contact_id,
        coalesce(signal_totals.fit_points, 0) as fit_points,
        cast({{ clamp('coalesce(signal_totals.fit_points, 0)') }} as integer) as fit_score,
        signal_totals.fit_disqualification_reason
    from contacts
    left join signal_totals on contacts.contact_id = signal_totals.contact_id

),

final as (

    select distinct on (scored.contact_id)
        scored.contact_id,
        scored.fit_points,
        scored.fit_score,
        coalesce(fit_grades.grade, 'D') as fit_grade,
        scored.fit_disqualification_reason
    from scored
    left join fit_grades on scored.fit_score >= fit_grades.min_fit_score
    order by scored.contact_id asc, fit_grades.min_fit_score desc nulls last

)

select * from final
