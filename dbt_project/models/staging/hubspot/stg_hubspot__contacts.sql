with

source as (

    select * from {{ source('hubspot', 'hubspot_contacts') }}

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
        updated_at,
        (archived or coalesce(lower({{ hs_attr('archived') }}) = 'true', false)) as is_archived,
        _load_id as load_id,
        _loaded_at as loaded_at

    from source

)

select * from renamed
