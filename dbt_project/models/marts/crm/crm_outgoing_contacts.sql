{#- THE outgoing model read by the CRM sync (reverse ETL): one row per non-archived contact,
    columns fixed by contract. lifecyclestage null = do not touch the CRM value. -#}
with

qualification as (

    select * from {{ ref('fct_lead_qualification') }}

),

final as (

    select
        contact_id,
        email,
        leadflow_stage,
        lifecyclestage,
        current_lifecyclestage,
        leadflow_score,
        fit_score,
        engagement_score,
        leadflow_fit_grade,
        leadflow_reasons,
        leadflow_stage_entered_at,
        disqualification_reason
    from qualification

)

select * from final
