{#- Names of every seed that holds scoring or mapping rules; all of them feed the rules hash. -#}
{% macro scoring_rule_seeds() -%}
    {{ return(['activity_rules', 'activity_types', 'bant_rules', 'deal_stage_rules', 'disqualification_reasons', 'fit_grades',
               'fit_rules', 'lead_status_rules', 'lifecycle_stage_mapping', 'scoring_settings']) }}
{%- endmacro %}

{#- Read from the seed when the model runs: each row of scoring_settings declares one setting, so
    a setting is added or renamed in the CSV alone. While dbt only parses there are none. -#}
{% macro scoring_setting_names() -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set query -%}
        select setting_name from {{ ref('scoring_settings') }} order by setting_name
    {%- endset -%}
    {%- set names = run_query(query).columns[0].values() | list -%}
    {#- each name becomes a column name and a string literal -#}
    {%- for name in names if not modules.re.match('^[a-z][a-z0-9_]*$', name) -%}
        {{ exceptions.raise_compiler_error("seed scoring_settings: setting_name " ~ name ~ " is not a lower-case identifier") }}
    {%- endfor -%}
    {{ return(names) }}
{%- endmacro %}
