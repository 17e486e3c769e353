with

source as (

    {{ hs_listed_records('deals') }}

),

renamed as (

    select
        id as deal_id,
        {{ hs_prop('dealname') }} as deal_name,
        {{ hs_to_numeric(hs_prop('amount')) }} as amount,
        lower({{ hs_prop('dealstage') }}) as deal_stage,
        {{ hs_prop('pipeline') }} as pipeline,
        {{ hs_to_timestamp(hs_prop('closedate')) }} as close_date,
        coalesce(
            {{ hs_to_timestamp(hs_prop('createdate')) }},
            {{ hs_to_timestamp(hs_attr('createdAt')) }},
            updated_at
        ) as created_at,
        coalesce({{ hs_to_timestamp(hs_prop('hs_lastmodifieddate')) }}, updated_at) as last_modified_at,
        {{ hs_to_bigint(hs_prop('hubspot_owner_id')) }} as owner_id,
        updated_at,
        (archived or coalesce(lower({{ hs_attr('archived') }}) = 'true', false)) as is_archived,
        _loaded_at as loaded_at

    from source

)

select * from renamed
