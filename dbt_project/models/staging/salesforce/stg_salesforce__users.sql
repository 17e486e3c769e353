with

source as (

    select * from {{ source('salesforce', 'salesforce_users') }}

),

renamed as (

    select
        id as user_id,
        lower({{ sf_field('Email') }}) as email,
        {{ sf_field('FirstName') }} as first_name,
        {{ sf_field('LastName') }} as last_name,
        {{ sf_bool('IsActive') }} as is_active,
        _loaded_at as loaded_at

    from source

)

select * from renamed
