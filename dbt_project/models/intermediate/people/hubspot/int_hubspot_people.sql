{#- HubSpot's people in the shared layer's vocabulary (int_contacts_enriched reads them where
    HubSpot is the CRM): non-archived contacts with their company (primary association, else
    associatedcompanyid, else lowest-id unlabeled association) and owner; record ids as text,
    as every CRM's. -#}
{#- a view: int_contacts_enriched, a table rebuilt every hour, is where its rows are written -#}
{{ config(materialized='view') }}

with

contacts as (

    select * from {{ ref('stg_hubspot__contacts') }}
    where not is_archived

),

companies as (

    select * from {{ ref('stg_hubspot__companies') }}
    where not is_archived

),

owners as (

    select * from {{ ref('stg_hubspot__owners') }}

),

associations as (

    select * from {{ ref('stg_hubspot__associations') }}

),

company_links as (

    select
        from_object_id as contact_id,
        to_object_id as company_id,
        case when association_type_id = 1 then 1 else 3 end as link_rank
    from associations
    where from_object_type = 'contacts' and to_object_type = 'companies'

    union all

    select
        to_object_id as contact_id,
        from_object_id as company_id,
        case when association_type_id = 2 then 1 else 3 end as link_rank
    from associations
    where from_object_type = 'companies' and to_object_type = 'contacts'

    union all

    select
        contact_id,
        associated_company_id as company_id,
        2 as link_rank
    from contacts
    where associated_company_id is not null

),

contact_company as (

    select distinct on (company_links.contact_id)
        company_links.contact_id,
        companies.company_id,
        companies.company_name,
        companies.domain as company_domain,
        companies.industry,
        companies.number_of_employees,
        companies.annual_revenue,
        companies.country as company_country
    from company_links
    inner join companies on company_links.company_id = companies.company_id
    order by company_links.contact_id asc, company_links.link_rank asc, companies.company_id asc

),

joined as (

    select
        contacts.contact_id,
        contacts.email,
        contacts.first_name,
        contacts.last_name,
        contacts.job_title,
        contacts.phone,
        coalesce(contacts.country, contact_company.company_country) as country,
        contacts.city,
        coalesce(contacts.company_name, contact_company.company_name) as company_name,
        coalesce(contacts.website, contact_company.company_domain) as website,
        cast(contact_company.company_id as text) as company_id,
        contact_company.industry,
        contact_company.number_of_employees,
        contact_company.annual_revenue,
        contacts.lifecyclestage as current_lifecyclestage,
        contacts.lead_status,
        cast(contacts.owner_id as text) as owner_id,
        owners.email as owner_email,
        (contacts.owner_id is not null and not coalesce(owners.is_archived, false)) as has_owner,
        contacts.analytics_source,
        contacts.bant_budget,
        contacts.bant_authority,
        contacts.bant_need,
        contacts.bant_timeframe,
        contacts.created_at,
        contacts.last_modified_at
    from contacts
    left join contact_company on contacts.contact_id = contact_company.contact_id
    left join owners on contacts.owner_id = owners.owner_id

)

select * from joined
