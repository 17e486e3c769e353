with

source as (

    select * from {{ source('hubspot', 'hubspot_contact_history') }}

),

lifecycle_stage_mapping as (

    select * from {{ ref('lifecycle_stage_mapping') }}

),

stage_of_lifecycle as (

    select distinct on (hubspot_lifecyclestage)
        hubspot_lifecyclestage,
        leadflow_stage
    from lifecycle_stage_mapping
    where hubspot_lifecyclestage is not null and funnel_order is not null
    order by hubspot_lifecyclestage asc, funnel_order asc

),

renamed as (

    select
        source.contact_id,
        source.property as property_name,
        nullif(trim(source.value), '') as property_value,
        source.changed_at,
        source.source_type,
        case when source.property = 'lifecyclestage' then stage_of_lifecycle.leadflow_stage end
            as leadflow_stage,
        source._loaded_at as loaded_at
    from source
    left join stage_of_lifecycle on lower(trim(source.value)) = stage_of_lifecycle.hubspot_lifecyclestage

)

select * from renamed
