{#- The run's reference time. The DAG passes the data interval end as env var LEADFLOW_AS_OF
    (var('as_of') wins when given, e.g. by hand or by a unit test's overrides);
    every time computation in the project uses this macro so the same inputs always
    produce the same outputs. Never use now()/current_timestamp in models. -#}
{% macro as_of() -%}
    {%- set value = var('as_of', none) or env_var('LEADFLOW_AS_OF', '') or none -%}
    {%- if value is none -%}
        {%- if execute -%}
            {{ exceptions.raise_compiler_error("var 'as_of' or env var LEADFLOW_AS_OF is required, e.g. --vars '{as_of: \"2026-11-23T10:00:00+00:00\"}'") }}
        {%- endif -%}
        {%- set value = '1970-01-01T00:00:00+00:00' -%}
    {%- endif -%}
    {%- set value = value | string -%}
    {%- if modules is defined and not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9:.]+)?([+-][0-9]{2}(:?[0-9]{2})?|Z)?$', value) -%}
        {{ exceptions.raise_compiler_error("var 'as_of' is not an ISO-8601 timestamp: " ~ value) }}
    {%- endif -%}
    cast('{{ value }}' as timestamp with time zone)
{%- endmacro %}
