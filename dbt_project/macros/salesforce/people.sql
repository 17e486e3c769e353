{% macro sf_person_number(number, records='records') -%}
    coalesce(
        min({{ number }}) filter (where {{ records }}.record_id = {{ records }}.person_key),
        min({{ number }})
    )
{%- endmacro %}
