{#- The properties of `object_type` the staging models read (var hubspot_properties_read) that
    the CRM's property list (raw.hubspot_properties) no longer has: one row, `absent` text[],
    empty while every one is listed or while no list was loaded yet. -#}
{% macro hs_absent_properties(object_type) -%}
    {%- set listed = source('hubspot', 'hubspot_properties') -%}
    select coalesce(array_agg(wanted.name order by wanted.name), '{}'::text[]) as absent
    from unnest(array['{{ var('hubspot_properties_read')[object_type] | join("', '") }}']::text[]) as wanted (name)
    where
        exists (select from {{ listed }} where object_type = '{{ object_type }}')
        and not exists (
            select from {{ listed }} as listed
            where listed.object_type = '{{ object_type }}' and listed.name = wanted.name
        )
{%- endmacro %}

{#- The raw rows of `object_type` (a source table name's suffix: contacts, companies, deals)
    as the staging models read them: `record` without the properties the CRM no longer lists
    (hs_absent_properties), so a property deleted in the CRM reads as null for every record at
    once, as a fresh load would give, not only for the records changed since; the absent
    names in `absent_properties`. Aliases `raw` and `catalog` stay in scope for a where. -#}
{% macro hs_listed_records(object_type) -%}
    select
        raw.id,
        case
            when cardinality(catalog.absent) = 0 then raw.record
            else jsonb_set(raw.record, '{properties}', (raw.record -> 'properties') - catalog.absent)
        end as record,
        raw.updated_at,
        raw.archived,
        raw._load_id,
        raw._loaded_at,
        array_to_string(catalog.absent, ',') as absent_properties
    from {{ source('hubspot', 'hubspot_' ~ object_type) }} as raw
    cross join ({{ hs_absent_properties(object_type) }}) as catalog
{%- endmacro %}
