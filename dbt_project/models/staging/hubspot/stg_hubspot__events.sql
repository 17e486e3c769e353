with

source as (

    select * from {{ source('hubspot', 'hubspot_events') }}

),

renamed as (

    select
        id as event_id,
        lower(event_type) as event_type,
        upper(object_type) as object_type,
        object_id,
        occurred_at,
        coalesce(record -> 'properties', '{}'::jsonb) as event_properties,
        {{ hs_prop('hs_url') }} as url,
        {{ hs_prop('hs_page_title') }} as page_title,
        {{ hs_prop('hs_form_id') }} as form_id,
        {{ hs_prop('hs_form_title') }} as form_title,
        _loaded_at as loaded_at

    from source

)

select * from renamed
