{#- Contact events matched to activity_rules (lowest priority wins; unmatched events are kept with
    activity_key null). Incremental on the raw load time; rows classified under another rules_hash do
    not count towards the watermark, so any rules edit reprocesses every event (delete+insert on event_id).
    The watermark is strict (`>`): a load commits its rows at once with one `_loaded_at`, and loads and
    builds never overlap (the DAG runs one at a time), so rows at the watermark were all seen already.
    The unique index stands in for a `unique` test that would rescan every event on every build.
    Event age/decay is NOT stored here: it depends on as_of and is computed downstream on every run.
    Events of a merged-away contact belong to its survivor (stg_hubspot__contact_merges). A merge
    recorded after its events were classified re-keys them: they are read again (through the raw
    events' object index) and keep their load time, so int_contact_activities_summed recomputes
    the survivor rather than counting them as new. -#}
{{
    config(
        materialized='incremental',
        unique_key='event_id',
        pre_hook=["set local enable_sort = off"],
        post_hook=[
            "create unique index if not exists {{ this.name }}_event_idx on {{ this }} (event_id)",
            "create index if not exists {{ this.name }}_contact_idx on {{ this }} (contact_id)",
            "create index if not exists {{ this.name }}_loaded_idx on {{ this }} (loaded_at)",
            "create index if not exists {{ this.name }}_occurred_idx on {{ this }} (occurred_at)"
        ]
    )
}}

with

{% if is_incremental() %}
    load_watermark as (

        select coalesce(max(classified.loaded_at), '-infinity'::timestamptz) as loaded_at
        from {{ this }} as classified
        where classified.rules_hash = (select settings.rules_hash from {{ ref('int_scoring_settings_pivoted') }} as settings)

    ),
{% endif %}

contact_merges as (

    select * from {{ ref('stg_hubspot__contact_merges') }}

),

events as (

    select * from {{ ref('stg_hubspot__events') }}
    where object_type in ('CONTACT', '0-1')
    {% if is_incremental() %}
        and loaded_at > (select loaded_at from load_watermark)

    union all

    -- classified before their contact was merged away: re-keyed to the survivor. The ids as an array
    -- so the raw object index finds their events (as a semi join the planner scanned every event);
    -- `loaded_at <=` in a form the planner cannot answer from the loaded_at index
    select * from {{ ref('stg_hubspot__events') }}
    where
        object_type in ('CONTACT', '0-1')
        and object_id = any(array(
            select contact_merges.old_contact_id from contact_merges
            where contact_merges.loaded_at > (select loaded_at from load_watermark)
            ))
        and (loaded_at > (select loaded_at from load_watermark)) is not true
    {% endif %}

),

activity_rules as (

    select * from {{ ref('activity_rules') }}

),

settings as (

    select * from {{ ref('int_scoring_settings_pivoted') }}

),

-- the best rule per event in a lateral subquery: a `distinct on (event_id)` over the join
-- would sort every event by its id. The lateral reads the event type's rules through the seed's
-- (event_type, priority, activity_key) index, already in order, and stops at the first match; the
-- planner would rather sort the tiny table per event, which evaluates every rule's pattern first,
-- so sorting is off in this model's transaction (it has nothing else to sort).
matched as (

    select
        events.event_id,
        coalesce(contact_merges.survivor_contact_id, events.object_id) as contact_id,
        events.event_type,
        events.occurred_at,
        events.loaded_at,
        best_rule.activity_key,
        best_rule.label,
        best_rule.points,
        best_rule.cap_points,
        best_rule.decays,
        best_rule.is_hand_raise,
        best_rule.counts_as_engagement,
        best_rule.disqualification_reason
    from events
    left join contact_merges on events.object_id = contact_merges.old_contact_id
    left join lateral (
        select activity_rules.*
        from activity_rules
        where
            events.event_type = activity_rules.event_type
            and (
                activity_rules.property_name is null
                or coalesce(events.event_properties ->> activity_rules.property_name, '') ~* coalesce(activity_rules.property_pattern, '')
            )
        order by activity_rules.priority asc, activity_rules.activity_key asc
        limit 1
    ) as best_rule on true

),

final as (

    select
        matched.event_id,
        matched.contact_id,
        matched.event_type,
        matched.occurred_at,
        matched.activity_key,
        matched.label,
        matched.points,
        matched.cap_points,
        coalesce(matched.decays, false) as decays,
        coalesce(matched.is_hand_raise, false) as is_hand_raise,
        coalesce(matched.counts_as_engagement, false) as counts_as_engagement,
        matched.disqualification_reason,
        settings.rules_hash,
        matched.loaded_at
    from matched
    cross join settings

)

select * from final
