{#- One row per marketing email event: its type, recipient, campaign, and what only some types
    carry (a click's url, a bounce's category). -#}
with

source as (

    select * from {{ source('hubspot', 'hubspot_email_events') }}

),

renamed as (

    select
        id as email_event_id,
        kind as event_type,
        email,
        occurred_at,
        record ->> 'emailCampaignId' as campaign_id,
        record ->> 'url' as url,
        record ->> 'category' as category,
        _loaded_at as loaded_at

    from source

)

select * from renamed
