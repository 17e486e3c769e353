{#- A scalar subquery rather than a literal, so that the order is stated only in the seed;
    Postgres evaluates it once per query. -#}
{% macro funnel_order_of(stage) -%}
    (select stage_mapping.funnel_order from {{ ref('lifecycle_stage_mapping') }} as stage_mapping where stage_mapping.leadflow_stage = '{{ stage }}')
{%- endmacro %}
