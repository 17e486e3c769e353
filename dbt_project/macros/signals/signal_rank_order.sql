{#- How a contact's signals rank within their direction, strongest first: by absolute points, ties
    by category and key so the order is total. fct_lead_signals numbers signals in this order and
    int_lead_reasons_summarized writes the strongest in it, so the two always agree. `relation` qualifies the
    columns when the query reads more than one. -#}
{% macro signal_rank_order(relation=none) -%}
    {%- set p = relation ~ '.' if relation else '' -%}
    abs({{ p }}points) desc, {{ p }}signal_category asc, {{ p }}signal_key asc
{%- endmacro %}
