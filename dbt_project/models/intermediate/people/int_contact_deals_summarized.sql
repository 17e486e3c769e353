{#- Per person: deal counts and dates from the CRM's deals (macro crm_ref). -#}
with

contact_deals as (

    select * from {{ crm_ref('deals') }}

),

final as (

    select
        contact_id,
        count(*) as deal_count,
        count(*) filter (where is_open) as open_deal_count,
        count(*) filter (where is_won) as won_deal_count,
        min(created_at) as first_deal_created_at,
        min(created_at) filter (where is_open) as first_open_deal_created_at,
        min(coalesce(close_date, last_modified_at)) filter (where is_won) as first_won_at
    from contact_deals
    group by contact_id

)

select * from final
