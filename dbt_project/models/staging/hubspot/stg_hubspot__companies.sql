with

source as (

    {{ hs_listed_records('companies') }}

),

renamed as (

    select
        id as company_id,
        {{ hs_prop('name') }} as company_name,
        lower({{ hs_prop('domain') }}) as domain,
        upper({{ hs_prop('industry') }}) as industry,
        {{ hs_to_numeric(hs_prop('numberofemployees')) }} as number_of_employees,
        {{ hs_to_numeric(hs_prop('annualrevenue')) }} as annual_revenue,
        {{ hs_prop('country') }} as country,
        {{ hs_prop('city') }} as city,
        coalesce(
            {{ hs_to_timestamp(hs_prop('createdate')) }},
            {{ hs_to_timestamp(hs_attr('createdAt')) }},
            updated_at
        ) as created_at,
        coalesce({{ hs_to_timestamp(hs_prop('hs_lastmodifieddate')) }}, updated_at) as last_modified_at,
        updated_at,
        (archived or coalesce(lower({{ hs_attr('archived') }}) = 'true', false)) as is_archived,
        _loaded_at as loaded_at

    from source

)

select * from renamed
