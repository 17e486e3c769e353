{#- Unlike the other staging models this one is a table, kept up to date incrementally: parsing
    the JSON of every contact each hour cost seconds at 1M contacts, and each hourly build read
    it more than once. An hourly build parses only the rows raw wrote since the last one (every
    upsert, archive and merge sets _loaded_at; loads and builds never overlap) and drops rows
    that left raw; all of them again when a property it reads leaves (or comes back to) the
    CRM's property list (absent_properties). The unique index stands in for a `unique` test. -#}
{{
    config(
        materialized='incremental',
        unique_key='contact_id',
        post_hook=[
            "{% if is_incremental() %}
                delete from {{ this }} as staged
                where not exists (
                    select from {{ source('hubspot', 'hubspot_contacts') }} as raw
                    where raw.id = staged.contact_id
                )
            {% endif %}",
            "create unique index if not exists {{ this.name }}_key_idx on {{ this }} (contact_id)",
            "create index if not exists {{ this.name }}_loaded_idx on {{ this }} (loaded_at)",
            "create index if not exists {{ this.name }}_email_idx on {{ this }} (email)",
        ]
    )
}}

with

source as (

    {{ hs_listed_records('contacts') }}
    {% if is_incremental() %}
        where
            raw._loaded_at > (select coalesce(max(staged.loaded_at), '-infinity') from {{ this }} as staged)
            -- a property deleted in (or back in) the CRM: every contact is read again
            or array_to_string(catalog.absent, ',') is distinct from (
                select staged.absent_properties from {{ this }} as staged
                order by staged.loaded_at desc limit 1
            )
    {% endif %}

),

renamed as (

    select
        id as contact_id,
        lower({{ hs_prop('email') }}) as email,
        {{ hs_prop('firstname') }} as first_name,
        {{ hs_prop('lastname') }} as last_name,
        {{ hs_prop('jobtitle') }} as job_title,
        {{ hs_prop('phone') }} as phone,
        {{ hs_prop('country') }} as country,
        {{ hs_prop('city') }} as city,
        {{ hs_prop('company') }} as company_name,
        {{ hs_prop('website') }} as website,
        lower({{ hs_prop('lifecyclestage') }}) as lifecyclestage,
        upper({{ hs_prop('hs_lead_status') }}) as lead_status,
        {{ hs_to_bigint(hs_prop('hubspot_owner_id')) }} as owner_id,
        {{ hs_prop('hs_analytics_source') }} as analytics_source,
        {{ hs_to_bigint(hs_prop('associatedcompanyid')) }} as associated_company_id,
        {{ hs_yes_no(hs_prop('bant_budget')) }} as bant_budget,
        {{ hs_yes_no(hs_prop('bant_authority')) }} as bant_authority,
        {{ hs_yes_no(hs_prop('bant_need')) }} as bant_need,
        {{ hs_yes_no(hs_prop('bant_timeframe')) }} as bant_timeframe,
        coalesce(
            {{ hs_to_timestamp(hs_prop('createdate')) }},
            {{ hs_to_timestamp(hs_attr('createdAt')) }},
            updated_at
        ) as created_at,
        coalesce(
            {{ hs_to_timestamp(hs_prop('hs_lastmodifieddate')) }},
            {{ hs_to_timestamp(hs_prop('lastmodifieddate')) }},
            updated_at
        ) as last_modified_at,
        -- What the CRM holds in leadflow's own properties: the push restores values someone
        -- cleared or changed there (leadflow.push_state.sent is what was written).
        {{ hs_prop('leadflow_stage') }} as crm_leadflow_stage,
        {{ hs_to_numeric(hs_prop('leadflow_score')) }} as crm_leadflow_score,
        {{ hs_prop('leadflow_fit_grade') }} as crm_leadflow_fit_grade,
        {{ hs_prop('leadflow_reasons') }} as crm_leadflow_reasons,
        {{ hs_to_timestamp(hs_prop('leadflow_stage_entered_at')) }} as crm_leadflow_stage_entered_at,
        {{ hs_prop('leadflow_stage_reason') }} as crm_leadflow_stage_reason,
        updated_at,
        (archived or coalesce(lower({{ hs_attr('archived') }}) = 'true', false)) as is_archived,
        _load_id as load_id,
        _loaded_at as loaded_at,
        absent_properties

    from source

)

select * from renamed
