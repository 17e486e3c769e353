{#- Every activity of a person in one vocabulary: one row per behavioural event, form submission,
    marketing email event, subscription change and engagement (per associated contact), with the
    canonical activity_type the seed activity_types maps it to (null: the seed names no type
    for it), when it happened, where it came from and its attributes under shared names
    (form_id, form_title, url, campaign_id, category, direction, is_reply ...). Scoring
    (int_activities_classified) reads only this model, so its rules are keyed on canonical
    types whatever the source.

    Records that name a person only by an email (submissions, email events, subscription
    changes) get the contact with that normalized email; with none yet (a submission whose
    contact a later run loads), contact_id stays null and the row is kept, counted as
    unattributed, and attributed in the first build after a contact with the email is loaded:
    it is then written again with that contact's load time, so the scoring models count it
    as new.

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

events as (

    select
        event_id as activity_id,
        object_id as contact_id,
        cast(null as text) as email,
        'hubspot' as source,
        event_type as source_type,
        event_id as source_id,
        occurred_at,
        event_properties || jsonb_strip_nulls(jsonb_build_object(
            'form_id', form_id,
            'form_title', form_title,
            'url', url,
            'page_title', page_title,
            'campaign_id', event_properties ->> 'hs_email_campaign_id'
        )) as attributes,
        loaded_at
    from {{ ref('stg_hubspot__events') }}
    where
        object_type in ('CONTACT', '0-1')
        {% if is_incremental() %}and loaded_at > (select loaded_at from load_watermark){% endif %}

),

submissions as (

    select
        'form:' || submission_id as activity_id,
        email,
        'form_submission' as source_type,
        submission_id as source_id,
        submitted_at as occurred_at,
        jsonb_strip_nulls(jsonb_build_object('form_id', form_id, 'form_title', form_name, 'url', page_url))
            as attributes,
        loaded_at
    from {{ ref('stg_hubspot__form_submissions') }}
    {% if is_incremental() %}where loaded_at > (select loaded_at from load_watermark){% endif %}

),

email_events as (

    select
        'email:' || email_event_id as activity_id,
        email,
        'email_event:' || event_type as source_type,
        email_event_id as source_id,
        occurred_at,
        jsonb_strip_nulls(jsonb_build_object('campaign_id', campaign_id, 'url', url, 'category', category))
            as attributes,
        loaded_at
    from {{ ref('stg_hubspot__email_events') }}
    where
        email is not null
        {% if is_incremental() %}and loaded_at > (select loaded_at from load_watermark){% endif %}

),

subscription_changes as (

    select
        'subscription:' || change_id as activity_id,
        email,
        'subscription_change:' || change as source_type,
        change_id as source_id,
        occurred_at,
        jsonb_strip_nulls(jsonb_build_object(
            'change_type', change_type, 'change_source', change_source, 'subscription_id', subscription_id
        )) as attributes,
        loaded_at
    from {{ ref('stg_hubspot__subscription_changes') }}
    {% if is_incremental() %}where loaded_at > (select loaded_at from load_watermark){% endif %}

),

by_email as (

    select * from submissions
    union all
    select * from email_events
    union all
    select * from subscription_changes

),

engaged as (

    select * from {{ ref('stg_hubspot__engagements') }}
    where
        not is_archived
        {% if is_incremental() %}and loaded_at > (select loaded_at from load_watermark){% endif %}

),

-- when each contact with an incoming email here was first sent one: an incoming email after
-- it is a reply (one aggregate, not a search of every engagement per incoming email)
first_sent as (

    select
        sent.contact_id,
        min(sent.occurred_at) as first_sent_at
    from {{ ref('stg_hubspot__engagements') }} as sent
    where
        sent.engagement_type = 'emails'
        and sent.direction = 'outgoing'
        and not sent.is_archived
        and sent.contact_id in (
            select engaged.contact_id from engaged
            where engaged.engagement_type = 'emails' and engaged.direction = 'incoming'
        )
    group by sent.contact_id

),

engagements as (

    select
        'engagement:' || engaged.engagement_id || ':' || engaged.contact_id as activity_id,
        engaged.contact_id,
        cast(null as text) as email,
        'hubspot' as source,
        'engagement:' || engaged.engagement_type as source_type,
        cast(engaged.engagement_id as text) as source_id,
        engaged.occurred_at,
        jsonb_strip_nulls(jsonb_build_object(
            'direction', engaged.direction,
            'status', engaged.status,
            'owner_id', engaged.owner_id,
            'is_reply', engaged.engagement_type = 'emails' and engaged.direction = 'incoming'
            and engaged.occurred_at > coalesce(first_sent.first_sent_at, 'infinity')
        )) as attributes,
        engaged.loaded_at
    from engaged
    left join first_sent on engaged.contact_id = first_sent.contact_id

),

attributed as (

    select
        by_email.activity_id,
        contact.contact_id,
        by_email.email,
        'hubspot' as source,
        by_email.source_type,
        by_email.source_id,
        by_email.occurred_at,
        by_email.attributes,
        by_email.loaded_at
    from by_email
    left join lateral (
        select contacts.contact_id from {{ ref('stg_hubspot__contacts') }} as contacts
        where contacts.email = by_email.email
        order by contacts.is_archived asc, contacts.contact_id asc
        limit 1
    ) as contact on true

    {% if is_incremental() %}
        union all

        -- unattributed until now: a contact with the email was loaded since the last build
        select
            waiting.activity_id,
            contact.contact_id,
            waiting.email,
            waiting.source,
            waiting.source_type,
            waiting.source_id,
            waiting.occurred_at,
            waiting.attributes,
            greatest(waiting.loaded_at, contact.loaded_at) as loaded_at
        from {{ this }} as waiting
        inner join lateral (
            select
                contacts.contact_id,
                contacts.loaded_at
            from {{ ref('stg_hubspot__contacts') }} as contacts
            where contacts.email = waiting.email
            order by contacts.is_archived asc, contacts.contact_id asc
            limit 1
        ) as contact on true
        where
            waiting.contact_id is null
            and contact.loaded_at > (select loaded_at from load_watermark)
            and waiting.rules_hash = (select settings.rules_hash from settings)
    {% endif %}

),

unioned as (

    select * from events
    union all
    select * from attributed
    union all
    select * from engagements

),

-- the seed's best mapping per record (lowest priority wins), read through its index
final as (

    select
        unioned.activity_id,
        unioned.contact_id,
        unioned.email,
        mapping.activity_type,
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
        select activity_types.activity_type
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
