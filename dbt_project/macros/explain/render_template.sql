{% macro render_template(template, values) -%}
    {#- `template` with each {name} of `values` replaced by its SQL expression's text (an empty
        value leaves '?'); names not given stay as written, for a later step to fill. Pass column
        references: each value nests one replace() deeper. -#}
    {%- set rendered = namespace(sql=template) -%}
    {%- for name, expression in values.items() -%}
        {%- set rendered.sql = "replace(" ~ rendered.sql ~ ", '{" ~ name ~ "}', coalesce(cast(" ~ expression ~ " as text), '?'))" -%}
    {%- endfor -%}
    {{ rendered.sql }}
{%- endmacro %}

{% macro stage_label(stage) -%}
    {#- A stage as people write it: the seed's label (SQL, MQL, nurture...). -#}
    (select stage_labels.label from {{ ref('lifecycle_stage_mapping') }} as stage_labels where stage_labels.leadflow_stage = {{ stage }})
{%- endmacro %}

{% macro utc_date(timestamp) -%}
    to_char({{ timestamp }} at time zone 'UTC', 'YYYY-MM-DD')
{%- endmacro %}

{% macro with_stage_before(reason, stage_before) -%}
    {#- A stage reason's {was} filled with the stage before (known to the stage log and its readers). -#}
    case
        when strpos({{ reason }}, '{was}') > 0
            then replace({{ reason }}, '{was}', coalesce({{ stage_label(stage_before) }}, 'not seen before'))
        else {{ reason }}
    end
{%- endmacro %}

{% macro html_escape(text) -%}
    {#- Text a person typed (a name, a form title, a page) made safe inside HTML: & < > " ' escaped. -#}
    replace(replace(replace(replace(replace({{ text }}, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;'), '''', '&#39;')
{%- endmacro %}
