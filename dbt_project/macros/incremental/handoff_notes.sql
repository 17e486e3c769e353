{#- Whether an SQL row of fct_lead_qualification (`qualification`) is an entry crm_handoff_notes
    has no note for yet: one an hourly build composes. -#}
{% macro without_handoff_note(qualification) -%}
    not exists (
        select from {{ this }} as notes
        where
            notes.contact_id = {{ qualification }}.contact_id
            and notes.sql_entered_at = {{ qualification }}.leadflow_stage_entered_at
    )
{%- endmacro %}

{#- How many SQL entries crm_handoff_notes has no note for yet: the notes an hourly build
    composes. Read when the model runs (0 while dbt only parses). -#}
{% macro new_sql_entries() -%}
    {%- if not execute -%}
        {{ return(0) }}
    {%- endif -%}
    {%- set query -%}
        select count(*)
        from {{ ref('fct_lead_qualification') }} as qualification
        where qualification.leadflow_stage = 'sql' and {{ without_handoff_note('qualification') }}
    {%- endset -%}
    {{ return(run_query(query).rows[0][0]) }}
{%- endmacro %}
