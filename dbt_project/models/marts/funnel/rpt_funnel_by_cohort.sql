{#- Funnel conversion rates and median days between stages by cohort = week / month in which the
    contact was created (entered the funnel). -#}
with

leads as (

    select * from {{ ref('dim_leads') }}

),

cohorted as (

    select
        grains.cohort_grain,
        cast(date_trunc(grains.cohort_grain, leads.created_at at time zone 'UTC') as date) as cohort_start,
        leads.*
    from leads
    cross join (values ('week'), ('month')) as grains (cohort_grain)

),

final as (

    select
        cohort_grain,
        cohort_start,
        {{ funnel_metrics() }}
    from cohorted
    group by cohort_grain, cohort_start

)

select * from final
