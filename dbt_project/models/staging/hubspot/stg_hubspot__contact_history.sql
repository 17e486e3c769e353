{#- The CRM's past lifecycle stages and lead statuses, one row per value set. A stage-entered
    date HubSpot calculates (hs_v2_date_entered_<stage>, stored as its own property) counts as
    an entry into that stage only where the property history has no entry into it: the
    history lists every entry, the calculated date only the last. -#}
with

recorded as (

    select * from {{ source('hubspot', 'hubspot_contact_history') }}

),

source as (

    select * from recorded
    where property in ('lifecyclestage', 'hs_lead_status')

    union all

    select
        calculated.contact_id,
        'lifecyclestage' as property,
        calculated.value,
        calculated.changed_at,
        calculated.source_type,
        calculated._load_id,
        calculated._loaded_at
    from recorded as calculated
    where
        calculated.property like 'hs\_v2\_date\_entered\_%'
        and not exists (
            select from recorded as entry
            where
                entry.contact_id = calculated.contact_id
                and entry.property = 'lifecyclestage'
                and lower(trim(entry.value)) = lower(calculated.value)
        )

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
