{#- For an incremental model that rewrites a slice of itself every hour (delete+insert): autovacuum
    after 2% of its rows died rather than the default 20%, so the space an hourly build freed is
    reusable by the next one. int_contact_activities_summed rewrites a large share of its rows per
    hour; with the default, autovacuum waited hours and builds slowed over the dead rows. -#}
{% macro vacuum_hourly() -%}
    alter table {{ this }} set (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02)
{%- endmacro %}
