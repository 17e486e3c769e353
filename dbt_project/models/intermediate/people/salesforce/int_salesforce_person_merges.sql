{#- Salesforce's merges in the shared vocabulary of stg_hubspot__contact_merges (the shared layer
    reads them where Salesforce is the CRM, macro crm_ref): a person whose key record (its
    Contact, or its unconverted Lead) was merged away into another (queryAll: IsDeleted with
    MasterRecordId) moves to the survivor's person, activities and all. Built where
    LEADFLOW_SOURCES lists salesforce. -#}
with

records as (

    select * from {{ ref('int_salesforce_person_records') }}

),

person_numbers as (

    select * from {{ ref('int_salesforce_person_numbers') }}

),

merged as (

    select
        records.person_key as old_person_key,
        survivors.person_key as survivor_person_key,
        records.loaded_at
    from records
    inner join records as survivors on records.master_record_id = survivors.record_id
    where records.is_archived and records.record_id = records.person_key

),

final as (

    select
        old_numbers.person_id as old_contact_id,
        survivor_numbers.person_id as survivor_contact_id,
        merged.loaded_at
    from merged
    inner join person_numbers as old_numbers on merged.old_person_key = old_numbers.person_key
    inner join person_numbers as survivor_numbers on merged.survivor_person_key = survivor_numbers.person_key
    where old_numbers.person_id <> survivor_numbers.person_id

)

select * from final
