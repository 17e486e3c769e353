{#- The source system that is this deployment's CRM: the first LEADFLOW_SOURCES names (the
    Python side reads the same setting). -#}
{% macro crm_source() -%}
    {{ return(env_var('LEADFLOW_SOURCES', 'hubspot').split(',')[0] | trim | lower) }}
{%- endmacro %}

{#- The CRM's model for one concept of the shared layer: every CRM's adapters, named in one
    place. -#}
{% macro crm_ref(concept) -%}
    {%- set adapters = {
        'hubspot': {
            'people': 'int_hubspot_people',
            'deals': 'int_hubspot_deals_associated',
            'person_merges': 'stg_hubspot__contact_merges',
        },
        'salesforce': {
            'people': 'int_salesforce_people',
            'deals': 'int_salesforce_deals_associated',
            'person_merges': 'int_salesforce_person_merges',
        },
    } -%}
    {{ return(ref(adapters[crm_source()][concept])) }}
{%- endmacro %}

{#- The CRM's records about its people in int_activities' shape (each source's macro lists
    them). Until people are matched across systems (issue #27), only the CRM's activities are
    read: another source's person ids are not the CRM's. -#}
{% macro crm_activity_records() -%}
    {%- if crm_source() == 'salesforce' -%}
        {{ return(salesforce_activity_records()) }}
    {%- else -%}
        {{ return(hubspot_activity_records()) }}
    {%- endif -%}
{%- endmacro %}
