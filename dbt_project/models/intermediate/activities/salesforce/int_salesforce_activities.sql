{#- Salesforce's records about a person in int_activities' shape (macro
    salesforce_activity_records reads them by load time): logged calls and emails (Tasks),
    meetings (Events), campaign responses (CampaignMembers that responded) and hard bounces,
    each on its person (WhoId, LeadId or ContactId to the person's number: a lead's activities
    stay its person's after conversion). A record naming no person leadflow has numbered yet
    keeps contact_id null and its who_id, and waits. The seed activity_types maps each
    source_type. Built where LEADFLOW_SOURCES lists salesforce. -#}
{{ config(materialized='view') }}

with

people as (

    select
        records.record_id,
        numbers.person_id
    from {{ ref('int_salesforce_person_records') }} as records
    inner join {{ ref('int_salesforce_person_numbers') }} as numbers on records.person_key = numbers.person_key

),

tasks as (

    select
        'task:' || task_id as activity_id,
        who_id,
        -- Call, Email or Task (a to-do)
        'task:' || lower(coalesce(task_subtype, 'Task')) as source_type,
        task_id as source_id,
        occurred_at,
        jsonb_build_object(
            'direction',
            case
                when task_subtype = 'Call' then case call_type when 'Outbound' then 'outgoing' when 'Inbound' then 'incoming' end
                -- a logged email is the owner's (an incoming one is an EmailMessage, not read)
                when task_subtype = 'Email' then 'outgoing'
                else 'internal'
            end,
            'status', lower(task_status),
            'call_disposition', call_disposition,
            'subject', subject,
            'owner_id', owner_id
        ) as attributes,
        loaded_at
    from {{ ref('stg_salesforce__tasks') }}
    where not is_archived

),

events as (

    select
        'event:' || event_id as activity_id,
        who_id,
        'event' as source_type,
        event_id as source_id,
        occurred_at,
        jsonb_build_object('direction', 'outgoing', 'subject', subject, 'owner_id', owner_id) as attributes,
        loaded_at
    from {{ ref('stg_salesforce__events') }}
    where not is_archived

),

campaign_responses as (

    select
        'campaign_member:' || members.campaign_member_id as activity_id,
        coalesce(members.contact_id, members.lead_id) as who_id,
        'campaign_response' as source_type,
        members.campaign_member_id as source_id,
        members.responded_at as occurred_at,
        -- the campaign's name as the form title: a form's campaign scores as the form does
        jsonb_build_object(
            'campaign_id', members.campaign_id,
            'campaign_type', campaigns.campaign_type,
            'form_title', campaigns.campaign_name,
            'member_status', members.member_status
        ) as attributes,
        members.loaded_at
    from {{ ref('stg_salesforce__campaign_members') }} as members
    left join {{ ref('stg_salesforce__campaigns') }} as campaigns on members.campaign_id = campaigns.campaign_id
    where members.has_responded and not members.is_archived

),

-- a hard bounce (EmailBouncedDate, from Salesforce's bounce management) once per person and
-- date: a converted lead and its contact carry the same one
bounces as (

    select distinct on (records.person_key, bounced.email_bounced_at)
        'bounce:' || records.person_key || ':' || cast(extract(epoch from bounced.email_bounced_at) as bigint)
            as activity_id,
        records.person_key as who_id,
        'email_bounce' as source_type,
        bounced.record_id as source_id,
        bounced.email_bounced_at as occurred_at,
        cast('{}' as jsonb) as attributes,
        bounced.loaded_at
    from (
        select
            lead_id as record_id,
            email_bounced_at,
            loaded_at
        from {{ ref('stg_salesforce__leads') }}
        where email_bounced_at is not null and not is_archived
        union all
        select
            contact_id as record_id,
            email_bounced_at,
            loaded_at
        from {{ ref('stg_salesforce__contacts') }}
        where email_bounced_at is not null and not is_archived
    ) as bounced
    inner join {{ ref('int_salesforce_person_records') }} as records on bounced.record_id = records.record_id
    order by records.person_key asc, bounced.email_bounced_at asc, bounced.loaded_at asc

),

unioned as (

    select * from tasks
    union all
    select * from events
    union all
    select * from campaign_responses
    union all
    select * from bounces

),

final as (

    select
        unioned.activity_id,
        people.person_id as contact_id,
        cast(null as text) as email,
        'salesforce' as source,
        unioned.source_type,
        unioned.source_id,
        unioned.occurred_at,
        jsonb_strip_nulls(unioned.attributes || jsonb_build_object('who_id', unioned.who_id)) as attributes,
        unioned.loaded_at
    from unioned
    left join people on unioned.who_id = people.record_id

)

select * from final
