{#- THE outgoing model read by the CRM sync (reverse ETL): one row per non-archived contact,
    columns fixed by contract. lifecyclestage null = do not touch the CRM value. An SQL names its
    hand-off note (crm_handoff_notes), so the gate that checks this list checks that every SQL has
    one and nothing else does. -#}
with

qualification as (

    select * from {{ ref('fct_lead_qualification') }}

),

handoff_notes as (

    select * from {{ ref('crm_handoff_notes') }}

),

final as (

    select
        qualification.contact_id,
        qualification.email,
        qualification.leadflow_stage,
        qualification.lifecyclestage,
        qualification.current_lifecyclestage,
        qualification.leadflow_score,
        qualification.fit_score,
        qualification.engagement_score,
        qualification.leadflow_fit_grade,
        qualification.leadflow_reasons,
        qualification.leadflow_stage_entered_at,
        qualification.stage_reason as leadflow_stage_reason,
        qualification.disqualification_reason,
        handoff_notes.note_key as handoff_note_key
    from qualification
    left join handoff_notes on qualification.contact_id = handoff_notes.contact_id

)

select * from final
