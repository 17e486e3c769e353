{#- The people leadflow qualifies, one row per person of the CRM (the first of LEADFLOW_SOURCES),
    read from its people model in one vocabulary (macro crm_ref), with the email attributes
    derived here and fit_input_hash: computed once here, it tells the incremental fit models
    which people to match and score again. -#}
with

people as (

    select * from {{ crm_ref('people') }}

),

joined as (

    select
        contact_id,
        email,
        nullif(split_part(email, '@', 2), '') as email_domain,
        coalesce(email ~ '^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$', false) as is_email_valid,
        first_name,
        last_name,
        job_title,
        phone,
        country,
        city,
        company_name,
        website,
        company_id,
        industry,
        number_of_employees,
        annual_revenue,
        current_lifecyclestage,
        lead_status,
        owner_id,
        owner_email,
        has_owner,
        analytics_source,
        bant_budget,
        bant_authority,
        bant_need,
        bant_timeframe,
        created_at,
        last_modified_at
    from people

),

final as (

    select
        joined.*,
        {{ fit_input_hash('joined') }} as fit_input_hash
    from joined

)

select * from final
