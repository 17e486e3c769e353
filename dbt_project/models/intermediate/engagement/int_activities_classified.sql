{#- Contacts' activities (int_activities, every source in one vocabulary) matched to activity_rules
    by canonical activity_type (lowest priority wins; unmatched activities are kept with
    activity_key null). Incremental on the load time; rows classified under another rules_hash do
    not count towards the watermark, so any rules edit reprocesses every activity (delete+insert on
    activity_id). Unattributed activities (no contact yet) wait in int_activities.

    One thing seen twice counts once: a portal with events v3 shows a form submission both as an
    e_submitted_form event and in the forms API, an email open in events v3 and the email events
    API. Such rows share a dedupe_key (contact, activity type, occurred_at, form) but come from
    different source types; the rows of one source type only count (those classified first, or
    in one build the first source type by name), the others are kept marked is_duplicate with
    no activity_key, so they score nothing (nor count as a sales touch) and the load watermark
    passes them. Rows of the
    same source type are never twins: two submissions of one form in one millisecond both count.
    The watermark is strict (`>`): a load commits its rows at once with one `_loaded_at`, and loads and
    builds never overlap (the DAG runs one at a time), so rows at the watermark were all seen already.
    The unique index stands in for a `unique` test that would rescan every event on every build.
    Event age/decay is NOT stored here: it depends on as_of and is computed downstream on every run.
    Events of a merged-away contact belong to its survivor (the CRM's merges, macro crm_ref). A merge
    recorded after its events were classified re-keys them: they are read again (through the raw
    events' object index) and keep their load time, so int_contact_activities_summed recomputes
    the survivor rather than counting them as new.
    A record read again after it changed (a meeting's outcome set, a Task reassigned, a lead
    updated that carries its bounce) replaces its row under a new load time; replaced_contact_id
    says whose sums counted the row it replaced, so int_contact_activities_summed recomputes that
    contact and the new one rather than adding the activity a second time. -#}
{{
    config(
        materialized='incremental',
        unique_key='activity_id',
        pre_hook=["set local enable_sort = off"],
        post_hook=[
            "create unique index if not exists {{ this.name }}_key_idx on {{ this }} (activity_id)",
            "create index if not exists {{ this.name }}_dedupe_idx on {{ this }} (dedupe_key)",
            "create index if not exists {{ this.name }}_contact_idx on {{ this }} (contact_id)",
            "create index if not exists {{ this.name }}_loaded_idx on {{ this }} (loaded_at)",
            "create index if not exists {{ this.name }}_occurred_idx on {{ this }} (occurred_at)",
            "create index if not exists {{ this.name }}_sales_touch_idx on {{ this }} (contact_id, occurred_at) where is_sales_touch"
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

    select * from {{ crm_ref('person_merges') }}

),

-- both inlined where they are read: two branches below each read their part of them, and
-- Postgres would otherwise copy every activity of a first build into a temporary store first
activities as not materialized (

    select * from {{ ref('int_activities') }}
    where
        contact_id is not null
    {% if is_incremental() %}
        and loaded_at > (select loaded_at from load_watermark)

    union all

    -- classified before their contact was merged away: re-keyed to the survivor. The ids as an array
    -- so the contact index finds their activities (as a semi join the planner scanned every one);
    -- `loaded_at <=` in a form the planner cannot answer from the loaded_at index
    select * from {{ ref('int_activities') }}
    where
        contact_id = any(array(
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

-- the best rule per activity in a lateral subquery: a `distinct on (activity_id)` over the join
-- would sort every activity by its id. The lateral reads the type's rules through the seed's
-- (activity_type, priority, activity_key) index, already in order, and stops at the first match;
-- the planner would rather sort the tiny table per activity, which evaluates every rule's pattern
-- first, so sorting is off in this model's transaction (the dedupe's hash needs none).
matched as not materialized (

    select
        activities.activity_id,
        coalesce(contact_merges.survivor_contact_id, activities.contact_id) as contact_id,
        activities.activity_type,
        activities.is_sales_touch,
        activities.source_type,
        coalesce(activities.attributes ->> 'form_id', activities.attributes ->> 'form_title') as form_key,
        activities.occurred_at,
        activities.loaded_at,
        best_rule.activity_key,
        best_rule.label,
        best_rule.points,
        best_rule.cap_points,
        best_rule.decays,
        best_rule.is_hand_raise,
        best_rule.counts_as_engagement,
        best_rule.disqualification_reason
    from activities
    left join contact_merges on activities.contact_id = contact_merges.old_contact_id
    left join lateral (
        select activity_rules.*
        from activity_rules
        where
            activities.activity_type = activity_rules.activity_type
            and (
                activity_rules.attribute is null
                or coalesce(activities.attributes ->> activity_rules.attribute, '') ~* coalesce(activity_rules.attribute_pattern, '')
            )
        order by activity_rules.priority asc, activity_rules.activity_key asc
        limit 1
    ) as best_rule on true

),

-- activity types more than one source type maps to (a form submission in the forms API and in
-- events v3): only their rows can be seen twice
repeatable_types as (

    select activity_type from {{ ref('activity_types') }}
    group by activity_type
    having count(distinct source_type) > 1

),

keyed as (

    select
        matched.*,
        md5(
            matched.contact_id || '|' || matched.activity_type || '|'
            || (extract(epoch from matched.occurred_at) * 1000)::bigint || '|'
            || coalesce(matched.form_key, '')
        ) as dedupe_key
    from matched
    where matched.activity_type in (select repeatable_types.activity_type from repeatable_types)

),

-- per key, the rows of one source type: the first in this build by name, and none whose key a
-- stored row of another source type holds
kept_sources as (

    select
        keyed.dedupe_key,
        min(keyed.source_type) as source_type
    from keyed
    group by keyed.dedupe_key

),

-- a row is a duplicate when its key's rows of another source type were kept, in this build or
-- before; duplicates are stored (unscored), so the load watermark passes them
deduplicated as (

    select
        matched.*,
        null::text as dedupe_key,
        false as is_duplicate
    from matched
    where
        matched.activity_type not in (select repeatable_types.activity_type from repeatable_types)
        or matched.activity_type is null

    union all

    select
        keyed.*,
        (
            keyed.source_type != kept_sources.source_type
            {% if is_incremental() %}
                or exists (
                    select from {{ this }} as stored
                    where
                        stored.dedupe_key = keyed.dedupe_key
                        and stored.source_type != keyed.source_type
                        and not stored.is_duplicate
                )
            {% endif %}
        ) as is_duplicate
    from keyed
    inner join kept_sources on keyed.dedupe_key = kept_sources.dedupe_key

),

final as (

    select
        deduplicated.activity_id,
        deduplicated.contact_id,
        deduplicated.activity_type,
        deduplicated.is_sales_touch and not deduplicated.is_duplicate as is_sales_touch,
        deduplicated.source_type,
        deduplicated.occurred_at,
        case when not deduplicated.is_duplicate then deduplicated.activity_key end as activity_key,
        deduplicated.label,
        deduplicated.points,
        deduplicated.cap_points,
        coalesce(deduplicated.decays, false) as decays,
        coalesce(deduplicated.is_hand_raise and not deduplicated.is_duplicate, false) as is_hand_raise,
        coalesce(deduplicated.counts_as_engagement and not deduplicated.is_duplicate, false)
            as counts_as_engagement,
        deduplicated.disqualification_reason,
        deduplicated.dedupe_key,
        deduplicated.is_duplicate,
        settings.rules_hash,
        deduplicated.loaded_at,
        {% if is_incremental() %}replaced.contact_id{% else %}null::bigint{% endif %} as replaced_contact_id
    from deduplicated
    cross join settings
    {% if is_incremental() %}
        -- through the activity_id index: a build's few rows are looked up one by one
        left join {{ this }} as replaced on deduplicated.activity_id = replaced.activity_id
    {% endif %}

)

select * from final
