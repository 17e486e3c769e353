{% macro clamp(expr, low=0, high=100) -%}
    least(greatest({{ expr }}, {{ low }}), {{ high }})
{%- endmacro %}
