{#- Every activity of a person in one vocabulary: one row per record the CRM holds about a
    person's behaviour (HubSpot: events, form submissions, marketing email events, subscription
    changes, engagements; Salesforce: tasks, events, campaign responses; each source's macro
    lists them, macro crm_activity_records), with the canonical activity_type the seed
    activity_types maps it to (null: the seed names no type for it), whether the seed counts it
    as a sales touch (an owner's call, meeting or email: the SLA's first touch, SAL), when it
    happened, where it came from and its attributes under shared names (form_id, form_title,
    url, campaign_id, category, direction, owner_id, is_reply ...). Scoring
    (int_activities_classified) reads only this model, so its rules are keyed on canonical
    types whatever the source. A record naming a person leadflow does not know yet keeps
    contact_id null (counted as unattributed) until a build after that person is loaded.

    Incremental on the load time (strict, as int_activities_classified explains); a rules
    change (rules_hash, which covers activity_types) maps everything again. -#}
{{
    config(
        materialized='incremental',
        unique_key='activity_id',
        post_hook=[
            "create unique index if not exists {{ this.name }}_key_idx on {{ this }} (activity_id)",
            "create index if not exists {{ this.name }}_contact_idx on {{ this }} (contact_id)",
            "create index if not exists {{ this.name }}_loaded_idx on {{ this }} (loaded_at)",
            "create index if not exists {{ this.name }}_unattributed_idx on {{ this }} (email) where contact_id is null"
        ]
    )
}}

with

settings as (

    select * from {{ ref('int_scoring_settings_pivoted') }}

),

{% if is_incremental() %}
    load_watermark as (

        select coalesce(max(built.loaded_at), cast('-infinity' as timestamptz)) as loaded_at
        from {{ this }} as built
        where built.rules_hash = (select settings.rules_hash from settings)

    ),
{% endif %}

unioned as (

    {{ crm_activity_records() }}

),

-- the seed's best mapping per record (lowest priority wins), read through its index
final as (

    select
        unioned.activity_id,
        unioned.contact_id,
        unioned.email,
        mapping.activity_type,
        coalesce(mapping.is_sales_touch, false) and unioned.attributes ? 'owner_id' as is_sales_touch,
        unioned.occurred_at,
        unioned.source,
        unioned.source_type,
        unioned.source_id,
        unioned.attributes,
        settings.rules_hash,
        unioned.loaded_at
    from unioned
    cross join settings
    left join lateral (
        select
            activity_types.activity_type,
            activity_types.is_sales_touch
        from {{ ref('activity_types') }} as activity_types
        where
            activity_types.source = unioned.source
            and activity_types.source_type = unioned.source_type
            and (
                activity_types.attribute is null
                or coalesce(unioned.attributes ->> activity_types.attribute, '') ~* coalesce(activity_types.attribute_pattern, '')
            )
        order by activity_types.priority asc, activity_types.activity_type asc
        limit 1
    ) as mapping on true

)

select * from final
