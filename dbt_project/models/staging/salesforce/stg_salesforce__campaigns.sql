with

source as (

    select * from {{ source('salesforce', 'salesforce_campaigns') }}

),

renamed as (

    select
        id as campaign_id,
        {{ sf_field('Name') }} as campaign_name,
        {{ sf_field('Type') }} as campaign_type,
        {{ sf_field('Status') }} as campaign_status,
        {{ sf_bool('IsActive') }} as is_active,
        archived as is_archived,
        _loaded_at as loaded_at

    from source

)

select * from renamed
