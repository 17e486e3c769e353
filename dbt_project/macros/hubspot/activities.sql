{#- HubSpot's records about a person in int_activities' shape (its CTEs settings and
    load_watermark in scope): behavioural events (events v3), form submissions, marketing email
    events and subscription changes by email, engagements per associated contact. Records that
    name a person only by an email get the contact with that normalized email; with none yet
    (a submission whose contact a later run loads), contact_id stays null and the row is kept,
    counted as unattributed, and attributed in the first build after a contact with the email
    is loaded: it is then written again with that contact's load time, so the scoring models
    count it as new. -#}
{% macro hubspot_activity_records() -%}
with

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

)

select * from events
union all
select * from attributed
union all
select * from engagements
{%- endmacro %}
