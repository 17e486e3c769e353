with

source as (

    select * from {{ source('salesforce', 'salesforce_lead_history') }}

),

renamed as (

    select
        id as history_id,
        {{ sf_id('LeadId') }} as lead_id,
        {{ sf_field('Field') }} as field_name,
        {{ sf_field('OldValue') }} as old_value,
        {{ sf_field('NewValue') }} as new_value,
        updated_at as changed_at,
        archived as is_archived,
        _loaded_at as loaded_at

    from source

)

select * from renamed
