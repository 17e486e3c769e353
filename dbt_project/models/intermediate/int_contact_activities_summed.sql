{#- Per contact and activity_key: sums of the contact's classified events up to as_of that do not
    depend on as_of, so scoring at any later time is one multiplication per row (see
    int_contact_activities_scored). Decaying points are stored decayed to the activity's last event
    and to the contact's last engagement: points * 0.5 ^ (age_days / half_life_days) at those times.

    Incremental per contact, so an hourly build costs what changed, not what is stored: only contacts
    with newly classified events, or with events that came into scope since the previous build's
    as_of, are recomputed (from all their events). The pre-hook empties the table when the rules
    changed or as_of moved backwards (a backfill); such a build then recomputes every contact. -#}
{{
    config(
        materialized='incremental',
        unique_key='contact_id',
        incremental_strategy='delete+insert',
        on_schema_change='sync_all_columns',
        pre_hook=["{% if is_incremental() %}
            delete from {{ this }}
            where (
                select bool_or(built.rules_hash <> settings.rules_hash or built.built_as_of > settings.as_of)
                from {{ this }} as built cross join {{ ref('int_scoring_settings') }} as settings
            )
        {% endif %}"],
        post_hook=["create index if not exists {{ this.name }}_contact_idx on {{ this }} (contact_id)"]
    )
}}

with

events as (

    select * from {{ ref('int_events_classified') }}
    where activity_key is not null

),

settings as (

    select * from {{ ref('int_scoring_settings') }}

),

{% if is_incremental() %}
    previous as (

        select
            max(built_as_of) as built_as_of,
            max(last_loaded_at) as last_loaded_at
        from {{ this }}

    ),

    changed_contacts as (

        -- everyone when the table is empty (first build after a rules change or a backfill)
        select contact_id from events
        where (select built_as_of from previous) is null

        union

        select contact_id from events
        where loaded_at > (select last_loaded_at from previous)

        union

        select contact_id from events
        where
            occurred_at > (select built_as_of from previous)
            and occurred_at <= (select as_of from settings)

    ),

    contact_events as (

        select events.*
        from events
        inner join changed_contacts on events.contact_id = changed_contacts.contact_id

    ),
{% else %}
    contact_events as (

        select * from events

    ),
{% endif %}

in_scope as (

    select
        contact_events.*,
        settings.half_life_days,
        max(contact_events.occurred_at) over (partition by contact_events.contact_id, contact_events.activity_key)
            as activity_last_occurred_at,
        max(contact_events.occurred_at) filter (where contact_events.counts_as_engagement)
            over (partition by contact_events.contact_id) as last_engaged_at
    from contact_events
    cross join settings
    where contact_events.occurred_at <= settings.as_of

),

summed as (

    select
        contact_id,
        activity_key,
        max(label) as label,
        max(cap_points) as cap_points,
        bool_or(decays) as decays,
        bool_or(is_hand_raise) as is_hand_raise,
        bool_or(counts_as_engagement) as counts_as_engagement,
        max(disqualification_reason) as disqualification_reason,
        count(*) as event_count,
        min(occurred_at) as first_occurred_at,
        max(occurred_at) as last_occurred_at,
        max(last_engaged_at) as last_engaged_at,
        sum({{ decayed_points('points', 'activity_last_occurred_at - occurred_at') }}) as points_at_last_occurrence,
        coalesce(
            sum({{ decayed_points('points', 'last_engaged_at - occurred_at') }}) filter (where occurred_at <= last_engaged_at),
            0
        ) as points_at_last_engagement,
        jsonb_agg(occurred_at order by occurred_at) filter (where is_hand_raise) as hand_raise_times,
        max(rules_hash) as rules_hash,
        max(loaded_at) as last_loaded_at
    from in_scope
    group by contact_id, activity_key

),

final as (

    select
        summed.*,
        settings.as_of as built_as_of
    from summed
    cross join settings

)

select * from final
