{% macro sf_field(name, record='record') -%}
    nullif(trim({{ record }} ->> '{{ name }}'), '')
{%- endmacro %}

{% macro sf_id(name, record='record') -%}
    {#- Salesforce ids as the API returns them: 18 characters (15 in older exports). -#}
    case when {{ record }} ->> '{{ name }}' ~ '^[0-9A-Za-z]{15}([0-9A-Z]{3})?$' then {{ record }} ->> '{{ name }}' end
{%- endmacro %}

{% macro sf_timestamp(name, record='record') -%}
    case
        when {{ record }} ->> '{{ name }}' ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$'
            then ({{ record }} ->> '{{ name }}')::timestamptz
    end
{%- endmacro %}

{% macro sf_date(name, record='record') -%}
    case when {{ record }} ->> '{{ name }}' ~ '^\d{4}-\d{2}-\d{2}$' then ({{ record }} ->> '{{ name }}')::date end
{%- endmacro %}

{% macro sf_number(name, record='record') -%}
    case when jsonb_typeof({{ record }} -> '{{ name }}') = 'number' then ({{ record }} ->> '{{ name }}')::numeric end
{%- endmacro %}

{% macro sf_bool(name, record='record') -%}
    coalesce(({{ record }} -> '{{ name }}')::boolean, false)
{%- endmacro %}

{% macro sf_leadflow_fields(record='record') -%}
    {#- leadflow's own fields as Salesforce holds them (plugins/leadflow/sources/salesforce/fields.py):
        the push compares them with what it sent. -#}
    {{ sf_field('Leadflow_Stage__c', record) }} as crm_leadflow_stage,
    {{ sf_number('Leadflow_Score__c', record) }} as crm_leadflow_score,
    {{ sf_field('Leadflow_Fit_Grade__c', record) }} as crm_leadflow_fit_grade,
    {{ sf_field('Leadflow_Reasons__c', record) }} as crm_leadflow_reasons,
    {{ sf_timestamp('Leadflow_Stage_Entered_At__c', record) }} as crm_leadflow_stage_entered_at,
    {{ sf_field('Leadflow_Stage_Reason__c', record) }} as crm_leadflow_stage_reason
{%- endmacro %}
