{#- Explainability: every fit rule, engagement activity (decayed, capped points) and inactivity penalty
    that contributed points, ranked per contact (positives by points desc, negatives by points asc),
    with a short display text such as "+30 demo request (2026-11-20)". Every contact with signals,
    archived ones too (their events are still classified): readers keep the live contacts, since
    joining them here would cost a hash join of all 15M signals at 1M contacts. -#}
with

fit_signals as (

    select * from {{ ref('int_contact_fit_signals') }}

),

-- offset 0 is a planner fence, not a row limit: capped_points is a power() call per row, and
-- with this subquery inlined it would be evaluated at each of its four mentions below (rounded
-- twice, in the select and in the points filter)
activities as (

    select
        contact_id,
        activity_key,
        label,
        capped_points,
        event_count,
        last_occurred_at
    from {{ ref('int_contact_activities_scored') }}
    offset 0  -- noqa: AM09

),

settings as (

    select * from {{ ref('int_scoring_settings') }}

),

-- every activity row of a contact carries the contact's last engagement (see
-- int_contact_activities_summed), so only the rows of inactive contacts are grouped. The cutoff
-- is a scalar subquery, so the scan compares with a constant instead of joining settings per
-- row. Taken from the sums, not from int_contact_engagement_scored, so that the ranking in
-- int_lead_reasons need not wait for that model.
inactive_contacts as (

    select
        contact_id,
        max(last_engaged_at) as last_engaged_at
    from {{ ref('int_contact_activities_summed') }}
    where
        last_engaged_at is null
        or last_engaged_at < (select {{ inactivity_cutoff() }} from settings)
    group by contact_id

),

unioned as (

    select
        contact_id,
        'fit' as signal_category,
        rule_id as signal_key,
        label,
        points,
        cast(null as bigint) as event_count,
        cast(null as timestamp with time zone) as signal_at
    from fit_signals

    union all

    select
        contact_id,
        'engagement' as signal_category,
        activity_key as signal_key,
        label,
        {{ round_half_away('capped_points') }} as points,
        event_count,
        last_occurred_at as signal_at
    from activities

    union all

    select
        inactive_contacts.contact_id,
        'engagement' as signal_category,
        'inactivity' as signal_key,
        'no engagement for ' || settings.inactivity_after_days || '+ days' as label,
        cast(settings.inactivity_points as integer) as points,
        cast(null as bigint) as event_count,
        inactive_contacts.last_engaged_at as signal_at
    from inactive_contacts
    cross join settings

),

ranked as (

    select
        unioned.*,
        case when unioned.points > 0 then 'positive' else 'negative' end as direction,
        row_number() over (
            partition by unioned.contact_id, unioned.points > 0
            order by abs(unioned.points) desc, unioned.signal_category asc, unioned.signal_key asc
        ) as signal_rank
    from unioned
    where unioned.points <> 0

),

final as (

    select
        contact_id,
        signal_category,
        signal_key,
        direction,
        signal_rank,
        points,
        label,
        event_count,
        signal_at,
        case when points > 0 then '+' else '' end || points || ' ' || label
        || case when event_count > 1 then ' x' || event_count else '' end
        || case when signal_at is not null then ' (' || to_char(signal_at at time zone 'UTC', 'YYYY-MM-DD') || ')' else '' end
            as signal_text
    from ranked

)

select * from final
