{#- HubSpot's deals in the shared vocabulary (int_contact_deals_summarized reads them where
    HubSpot is the CRM): one row per contact and associated non-archived deal (both association
    directions), with deal_stage_rules applied (unknown stages are open unless they start with
    'closed'). -#}
with

associations as (

    select * from {{ ref('stg_hubspot__associations') }}

),

deals as (

    select * from {{ ref('stg_hubspot__deals') }}
    where not is_archived

),

deal_stage_rules as (

    select * from {{ ref('deal_stage_rules') }}

),

contact_deal_links as (

    select
        from_object_id as contact_id,
        to_object_id as deal_id
    from associations
    where from_object_type = 'contacts' and to_object_type = 'deals'

    union

    select
        to_object_id as contact_id,
        from_object_id as deal_id
    from associations
    where from_object_type = 'deals' and to_object_type = 'contacts'

),

final as (

    select
        contact_deal_links.contact_id,
        cast(deals.deal_id as text) as deal_id,
        deals.deal_stage,
        deals.created_at,
        deals.close_date,
        deals.last_modified_at,
        coalesce(deal_stage_rules.is_open, deals.deal_stage not like 'closed%') as is_open,
        coalesce(deal_stage_rules.is_won, false) as is_won
    from contact_deal_links
    inner join deals on contact_deal_links.deal_id = deals.deal_id
    left join deal_stage_rules on deals.deal_stage = deal_stage_rules.deal_stage

)

select * from final
