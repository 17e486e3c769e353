{#- Explainability: every fit rule, engagement activity (decayed, capped points) and inactivity penalty
    that contributed points, ranked per contact (positives by points desc, negatives by points asc),
    with a short display text such as "+30 demo request (2026-11-20)". -#}
with

contacts as (

    select * from {{ ref('int_contacts_enriched') }}

),

fit_signals as (

    select * from {{ ref('int_contact_fit_signals') }}

),

activities as (

    select * from {{ ref('int_contact_activities_scored') }}

),

-- the contact's last engagement is on each of its activities: taken from there, not from
-- int_contact_engagement_scored, the ranking in int_lead_reasons need not wait for that model
last_engagements as (

    select
        contact_id,
        max(last_engaged_at) as last_engaged_at
    from {{ ref('int_contact_activities_scored') }}
    group by contact_id

),

settings as (

    select * from {{ ref('int_scoring_settings') }}

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
        last_engagements.contact_id,
        'engagement' as signal_category,
        'inactivity' as signal_key,
        'no engagement for ' || settings.inactivity_after_days || '+ days' as label,
        cast({{ inactivity_points('last_engagements.last_engaged_at') }} as integer) as points,
        cast(null as bigint) as event_count,
        last_engagements.last_engaged_at as signal_at
    from last_engagements
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
    inner join contacts on unioned.contact_id = contacts.contact_id
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
