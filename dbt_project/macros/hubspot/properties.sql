{#- Reading values from HubSpot CRM v3 API records stored as jsonb in raw tables. -#}

{#- A property from record->'properties' as text; empty strings become null. -#}
{% macro hs_prop(name, record='record') -%}
    nullif(trim({{ record }} -> 'properties' ->> '{{ name }}'), '')
{%- endmacro %}

{#- A top-level key of the record as text (e.g. createdAt, email for owners). -#}
{% macro hs_attr(name, record='record') -%}
    nullif(trim({{ record }} ->> '{{ name }}'), '')
{%- endmacro %}

{#- Text -> timestamptz; accepts ISO-8601 strings and epoch milliseconds, anything else is null. -#}
{% macro hs_to_timestamp(expr) -%}
    case
        when {{ expr }} ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}' then cast({{ expr }} as timestamp with time zone)
        when {{ expr }} ~ '^[0-9]{12,14}$' then to_timestamp(cast({{ expr }} as bigint) / 1000.0)
    end
{%- endmacro %}

{#- Text -> numeric; non-numeric text is null. -#}
{% macro hs_to_numeric(expr) -%}
    case when {{ expr }} ~ '^\s*-?[0-9]+(\.[0-9]+)?\s*$' then cast({{ expr }} as numeric) end
{%- endmacro %}

{#- Text -> bigint id; non-numeric text is null. -#}
{% macro hs_to_bigint(expr) -%}
    case when {{ expr }} ~ '^\s*[0-9]{1,18}\s*$' then cast({{ expr }} as bigint) end
{%- endmacro %}

{#- 'yes'/'no'/'true'/'false' -> lower-case 'yes'/'no'; anything else null. -#}
{% macro hs_yes_no(expr) -%}
    case
        when lower({{ expr }}) in ('yes', 'true', 'y', '1') then 'yes'
        when lower({{ expr }}) in ('no', 'false', 'n', '0') then 'no'
    end
{%- endmacro %}
