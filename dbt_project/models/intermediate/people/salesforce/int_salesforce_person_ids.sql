{#- The number leadflow knows each Salesforce person by. Salesforce ids are 18-character text, and
    a person's key moves from the Lead's id to the Contact's when sales converts it; the shared
    layer, the push state and the stage history key people by a number (HubSpot's contact id),
    which must not move. So every Lead and Contact id gets a person id once, the first build that
    sees it, and keeps it: a record joins the person of a known record with its key (the Contact
    a lead converted into takes the lead's person id, so the person keeps its history); a record
    of a new key takes the next number. This is the one table of the intermediate layer that is
    state, not derived from raw: it is logged (a crash keeps it) and `--full-refresh` leaves it
    (full_refresh false). Were it lost anyway, the next build numbers people again and the next
    push writes every person once more, each to its own record (the push resolves record ids
    from this table). Built where LEADFLOW_SOURCES lists salesforce (dbt_project.yml). -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        full_refresh=false,
        unlogged=false,
        on_schema_change='fail'
    )
}}

with

records as (

    select
        record_id,
        person_key
    from {{ ref('int_salesforce_person_records') }}

),

known as (

    {% if is_incremental() %}
        select
            record_id,
            person_id
        from {{ this }}
    {% else %}
        select
            null::text as record_id,
            null::bigint as person_id
        where false
    {% endif %}

),

new_records as (

    select records.*
    from records
    where not exists (
            select from known
            where known.record_id = records.record_id
        )

),

-- A key some known record already has: its person's number (macro sf_person_number).
known_keys as (

    select
        records.person_key,
        {{ sf_person_number('known.person_id') }} as person_id
    from records
    inner join known on records.record_id = known.record_id
    where records.person_key in (select new_records.person_key from new_records)
    group by records.person_key

),

new_keys as (

    select
        keys.person_key,
        (select coalesce(max(known.person_id), 0) from known)
        + row_number() over (order by keys.person_key) as person_id
    from (select distinct new_records.person_key from new_records) as keys
    where not exists (
            select from known_keys
            where known_keys.person_key = keys.person_key
        )

),

final as (

    select
        new_records.record_id,
        coalesce(known_keys.person_id, new_keys.person_id) as person_id,
        current_timestamp as assigned_at
    from new_records
    left join known_keys on new_records.person_key = known_keys.person_key
    left join new_keys on new_records.person_key = new_keys.person_key

)

select * from final
