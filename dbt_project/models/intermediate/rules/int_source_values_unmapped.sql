{#- Values in a source's stage history that no mapping seed knows: a lifecycle stage missing from
    lifecycle_stage_mapping (a custom stage's numeric id), a lead status missing from
    lead_status_rules. They are left out of the stage log; this counts them, so the run
    summary can say which values to add to the seeds. -#}
{{ config(materialized='view') }}

with

history as (

    select * from {{ ref('stg_hubspot__contact_history') }}

),

lifecycle_stage_mapping as (

    select * from {{ ref('lifecycle_stage_mapping') }}

),

lead_status_rules as (

    select * from {{ ref('lead_status_rules') }}

),

unknown as (

    select
        'hubspot' as source,
        history.property_name,
        history.property_value,
        history.contact_id
    from history
    where
        history.property_value is not null
        and (
            (
                history.property_name = 'lifecyclestage'
                and lower(history.property_value) not in (
                    select lower(lifecycle_stage_mapping.hubspot_lifecyclestage) from lifecycle_stage_mapping
                    where lifecycle_stage_mapping.hubspot_lifecyclestage is not null
                )
            )
            or (
                history.property_name = 'hs_lead_status'
                and upper(history.property_value) not in (
                    select upper(lead_status_rules.lead_status) from lead_status_rules
                    where lead_status_rules.source = 'hubspot'
                )
            )
        )

),

final as (

    select
        source,
        property_name,
        property_value,
        count(*) as value_count,
        count(distinct contact_id) as contact_count
    from unknown
    group by source, property_name, property_value

)

select * from final
