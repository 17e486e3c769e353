{#- Conversion to MQL/SQL/opportunity/customer by score band (leadflow_score when first marketing-qualified,
    else the current score; bands of 20 points) and by fit grade — the quarterly criteria review input. -#}
with

leads as (

    select * from {{ ref('dim_leads') }}

),

banded as (

    select
        'score_band' as band_type,
        case
            when leads.leadflow_score_for_banding >= 80 then '80-100'
            else (floor(leads.leadflow_score_for_banding / 20.0) * 20)::int || '-' || ((floor(leads.leadflow_score_for_banding / 20.0) * 20)::int + 19)
        end as band,
        leads.*
    from leads

    union all

    select
        'fit_grade' as band_type,
        leadflow_fit_grade as band,
        leads.*
    from leads

),

final as (

    select
        band_type,
        band,
        {{ funnel_metrics() }},
        round(1.0 * count(*) filter (where reached_opportunity) / nullif(count(*), 0), 4) as contact_to_opportunity_rate,
        round(1.0 * count(*) filter (where reached_customer) / nullif(count(*), 0), 4) as contact_to_customer_rate
    from banded
    group by band_type, band

)

select * from final
