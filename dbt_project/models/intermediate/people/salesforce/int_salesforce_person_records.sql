{#- Salesforce holds one human as a Lead and, once sales converts it, a Contact: both are one
    person. Every Lead and Contact id maps to its person's key, the Contact's id once converted
    (even before the Contact itself is read), else the Lead's own; so the lead's history and
    activities and the contact's are one person's. Built where LEADFLOW_SOURCES lists salesforce
    (dbt_project.yml). -#}

with

leads as (

    select * from {{ ref('stg_salesforce__leads') }}

),

contacts as (

    select * from {{ ref('stg_salesforce__contacts') }}

),

records as (

    select
        lead_id as record_id,
        'Lead' as record_type,
        coalesce(converted_contact_id, lead_id) as person_key,
        is_converted,
        is_archived,
        master_record_id,
        loaded_at
    from leads

    union all

    select
        contact_id as record_id,
        'Contact' as record_type,
        contact_id as person_key,
        false as is_converted,
        is_archived,
        master_record_id,
        loaded_at
    from contacts

)

select * from records
