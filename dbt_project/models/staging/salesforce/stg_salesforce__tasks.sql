with

source as (

    select * from {{ source('salesforce', 'salesforce_tasks') }}

),

renamed as (

    select
        id as task_id,
        {{ sf_id('WhoId') }} as who_id,
        {{ sf_id('WhatId') }} as what_id,
        {{ sf_id('OwnerId') }} as owner_id,
        {{ sf_field('Subject') }} as subject,
        {{ sf_field('Status') }} as task_status,
        {{ sf_field('TaskSubtype') }} as task_subtype,
        {{ sf_field('Type') }} as task_type,
        {{ sf_field('CallType') }} as call_type,
        {{ sf_field('CallDisposition') }} as call_disposition,
        {{ sf_bool('IsClosed') }} as is_closed,
        -- when it happened: completed, else its due date, else when it was logged
        coalesce(
            {{ sf_timestamp('CompletedDateTime') }},
            {{ sf_date('ActivityDate') }}::timestamptz,
            {{ sf_timestamp('CreatedDate') }}
        ) as occurred_at,
        archived as is_archived,
        _loaded_at as loaded_at

    from source

)

select * from renamed
