with

source as (

    select * from {{ source('salesforce', 'salesforce_opportunity_contact_roles') }}

),

renamed as (

    select
        id as contact_role_id,
        {{ sf_id('OpportunityId') }} as opportunity_id,
        {{ sf_id('ContactId') }} as contact_id,
        {{ sf_field('Role') }} as contact_role,
        {{ sf_bool('IsPrimary') }} as is_primary,
        archived as is_archived,
        _loaded_at as loaded_at

    from source

)

select * from renamed
