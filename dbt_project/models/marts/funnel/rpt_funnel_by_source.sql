{#- Funnel conversion rates and median days between stages by original source (hs_analytics_source). -#}
with

leads as (

    select * from {{ ref('dim_leads') }}

),

final as (

    select
        coalesce(analytics_source, 'UNKNOWN') as analytics_source,
        {{ funnel_metrics() }}
    from leads
    group by coalesce(analytics_source, 'UNKNOWN')

)

select * from final
