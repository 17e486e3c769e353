with

source as (

    select * from {{ source('hubspot', 'hubspot_associations') }}

),

renamed as (

    select
        from_type as from_object_type,
        from_id as from_object_id,
        to_type as to_object_type,
        to_id as to_object_id,
        type_id as association_type_id,
        _loaded_at as loaded_at

    from source

)

select * from renamed
