{#- Names of every seed that holds scoring rules; all of them feed the rules hash. -#}
{% macro scoring_rule_seeds() -%}
    {{ return(['activity_rules', 'bant_rules', 'deal_stage_rules', 'disqualification_reasons', 'fit_grades',
               'fit_rules', 'lead_status_rules', 'lifecycle_stage_mapping', 'scoring_settings']) }}
{%- endmacro %}

{#- Names of the settings pivoted from scoring_settings into int_scoring_settings_pivoted columns. -#}
{% macro scoring_setting_names() -%}
    {{ return(['fit_weight', 'engagement_weight', 'half_life_days', 'lead_min_fit_score', 'mql_min_score',
               'mql_min_fit_score', 'sql_min_fit_score', 'sql_hand_raise_window_days', 'cold_after_days',
               'inactivity_after_days', 'inactivity_points', 'sla_mql_to_sal_hours',
               'sla_sql_first_touch_hours']) }}
{%- endmacro %}
