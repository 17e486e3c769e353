with

source as (

    select * from {{ source('salesforce', 'salesforce_events') }}

),

renamed as (

    select
        id as event_id,
        {{ sf_id('WhoId') }} as who_id,
        {{ sf_id('WhatId') }} as what_id,
        {{ sf_id('OwnerId') }} as owner_id,
        {{ sf_field('Subject') }} as subject,
        {{ sf_field('EventSubtype') }} as event_subtype,
        coalesce({{ sf_timestamp('StartDateTime') }}, {{ sf_timestamp('ActivityDateTime') }}) as occurred_at,
        {{ sf_timestamp('EndDateTime') }} as ended_at,
        archived as is_archived,
        _loaded_at as loaded_at

    from source

)

select * from renamed
