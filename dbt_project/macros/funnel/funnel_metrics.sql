{#- Aggregate funnel metrics over dim_leads rows (used by the cohort / source / score-band reports).
    Rates are conversions between consecutive funnel stages; medians are in days. -#}
{% macro funnel_metrics() -%}
    count(*) as contacts,
    count(*) filter (where reached_lead) as reached_lead,
    count(*) filter (where reached_mql) as reached_mql,
    count(*) filter (where reached_sal) as reached_sal,
    count(*) filter (where reached_sql) as reached_sql,
    count(*) filter (where reached_opportunity) as reached_opportunity,
    count(*) filter (where reached_customer) as reached_customer,
    count(*) filter (where leadflow_stage = 'nurture') as currently_nurture,
    count(*) filter (where leadflow_stage = 'disqualified') as currently_disqualified,
    round(1.0 * count(*) filter (where reached_mql) / nullif(count(*) filter (where reached_lead), 0), 4) as lead_to_mql_rate,
    round(1.0 * count(*) filter (where reached_sql) / nullif(count(*) filter (where reached_mql), 0), 4) as mql_to_sql_rate,
    round(1.0 * count(*) filter (where reached_opportunity) / nullif(count(*) filter (where reached_sql), 0), 4) as sql_to_opportunity_rate,
    round(1.0 * count(*) filter (where reached_customer) / nullif(count(*) filter (where reached_opportunity), 0), 4) as opportunity_to_customer_rate,
    round(1.0 * count(*) filter (where reached_customer) / nullif(count(*) filter (where reached_mql), 0), 4) as mql_to_customer_rate,
    round(cast(percentile_cont(0.5) within group (order by days_created_to_mql) as numeric), 2) as median_days_created_to_mql,
    round(cast(percentile_cont(0.5) within group (order by days_mql_to_sql) as numeric), 2) as median_days_mql_to_sql,
    round(cast(percentile_cont(0.5) within group (order by days_sql_to_opportunity) as numeric), 2) as median_days_sql_to_opportunity,
    round(cast(percentile_cont(0.5) within group (order by days_opportunity_to_customer) as numeric), 2) as median_days_opportunity_to_customer
{%- endmacro %}

{#- Days between two timestamps as numeric(12, 2); null unless both are set and in order. -#}
{% macro days_between(start_at, end_at) -%}
    case
        when {{ start_at }} is not null and {{ end_at }} >= {{ start_at }}
            then round(cast(extract(epoch from ({{ end_at }} - {{ start_at }})) / 86400.0 as numeric), 2)
    end
{%- endmacro %}
