{#- One row per subscription change (an unsubscribe, a resubscribe, a bounce the portal
    recorded), from the subscription timeline. -#}
with

source as (

    select * from {{ source('hubspot', 'hubspot_subscription_changes') }}

),

renamed as (

    select
        id as change_id,
        kind as change,
        record ->> 'changeType' as change_type,
        record ->> 'source' as change_source,
        record ->> 'subscriptionId' as subscription_id,
        email,
        occurred_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
