{#- Each Salesforce person's number (macro sf_person_number), one row per person key, and what
    the shared layer needs to know of the person as a whole: whether it is a Contact (or a lead
    converted into one) and whether its key record is gone (deleted or merged away). A converted
    lead's Contact can be read an hour after it; until then the lead's number is the person's.
    People, merges and activities read numbers here. Built where LEADFLOW_SOURCES lists
    salesforce (dbt_project.yml). -#}
{{ config(materialized='view') }}

with

records as (

    select * from {{ ref('int_salesforce_person_records') }}

),

person_ids as (

    select * from {{ ref('int_salesforce_person_ids') }}

),

final as (

    select
        records.person_key,
        {{ sf_person_number('person_ids.person_id') }} as person_id,
        case when bool_or(records.record_type = 'Contact' or records.is_converted) then 'Contact' else 'Lead' end
            as record_type,
        coalesce(bool_or(records.is_archived) filter (where records.record_id = records.person_key), false)
            as is_gone
    from records
    inner join person_ids on records.record_id = person_ids.record_id
    group by records.person_key

)

select * from final
