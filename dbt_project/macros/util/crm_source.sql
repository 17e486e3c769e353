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
