{#- Salesforce's records about a person in int_activities' shape (its CTEs settings and
    load_watermark in scope): int_salesforce_activities' rows loaded since the last build, and
    rows that waited for their person (they name a Lead or Contact leadflow had not numbered)
    once that record is loaded, written again with its load time so the scoring models count
    them as new. -#}
{% macro salesforce_activity_records() -%}
    {#- named outside the incremental branch, so dbt sees the dependencies when it parses -#}
    {%- set records = ref('int_salesforce_person_records') -%}
    {%- set numbers = ref('int_salesforce_person_numbers') -%}
    select * from {{ ref('int_salesforce_activities') }}
    {% if is_incremental() %}
    where loaded_at > (select loaded_at from load_watermark)

    union all

    select
        waiting.activity_id,
        people.person_id as contact_id,
        waiting.email,
        waiting.source,
        waiting.source_type,
        waiting.source_id,
        waiting.occurred_at,
        waiting.attributes,
        greatest(waiting.loaded_at, people.loaded_at) as loaded_at
    from {{ this }} as waiting
    inner join (
        select
            records.record_id,
            records.loaded_at,
            numbers.person_id
        from {{ records }} as records
        inner join {{ numbers }} as numbers on records.person_key = numbers.person_key
    ) as people on waiting.attributes ->> 'who_id' = people.record_id
    where
        waiting.contact_id is null
        and waiting.source = 'salesforce'
        and people.loaded_at > (select loaded_at from load_watermark)
        and waiting.rules_hash = (select settings.rules_hash from settings)
{% endif %}
{%- endmacro %}
