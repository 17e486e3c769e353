{#- The run's reference time. The DAG passes the data interval end as var('as_of');
    every time computation in the project uses this macro so the same inputs always
    produce the same outputs. Never use now()/current_timestamp in models. -#}
{% macro as_of() -%}
    {%- set value = var('as_of', none) -%}
    {%- if value is none -%}
        {%- if execute -%}
            {{ exceptions.raise_compiler_error("var 'as_of' is required, e.g. --vars '{as_of: \"2026-11-23T10:00:00+00:00\"}'") }}
        {%- endif -%}
        {%- set value = '1970-01-01T00:00:00+00:00' -%}
    {%- endif -%}
    {%- set value = value | string -%}
    {%- if modules is defined and not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9:.]+)?([+-][0-9]{2}(:?[0-9]{2})?|Z)?$', value) -%}
        {{ exceptions.raise_compiler_error("var 'as_of' is not an ISO-8601 timestamp: " ~ value) }}
    {%- endif -%}
    cast('{{ value }}' as timestamp with time zone)
{%- endmacro %}
