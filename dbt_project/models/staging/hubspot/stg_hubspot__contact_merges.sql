with

source as (

    select * from {{ source('hubspot', 'hubspot_contact_merges') }}

),

renamed as (

    select
        old_id as old_contact_id,
        survivor_id as survivor_contact_id,
        _loaded_at as loaded_at

    from source

)

select * from renamed
