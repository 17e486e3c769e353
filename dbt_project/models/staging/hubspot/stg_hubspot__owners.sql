with

source as (

    select * from {{ source('hubspot', 'hubspot_owners') }}

),

renamed as (

    select
        id as owner_id,
        lower({{ hs_attr('email') }}) as email,
        {{ hs_attr('firstName') }} as first_name,
        {{ hs_attr('lastName') }} as last_name,
        {{ hs_to_bigint(hs_attr('userId')) }} as user_id,
        {{ hs_to_timestamp(hs_attr('createdAt')) }} as created_at,
        coalesce({{ hs_to_timestamp(hs_attr('updatedAt')) }}, updated_at) as updated_at,
        (archived or coalesce(lower({{ hs_attr('archived') }}) = 'true', false)) as is_archived,
        _loaded_at as loaded_at

    from source

)

select * from renamed
