with

source as (

    select * from {{ source('salesforce', 'salesforce_accounts') }}

),

renamed as (

    select
        id as account_id,
        {{ sf_field('Name') }} as account_name,
        {{ sf_field('Website') }} as website,
        {{ sf_field('Industry') }} as industry,
        {{ sf_number('NumberOfEmployees') }} as employees,
        {{ sf_number('AnnualRevenue') }} as annual_revenue,
        {{ sf_field('BillingCountry') }} as country,
        {{ sf_id('OwnerId') }} as owner_id,
        {{ sf_id('MasterRecordId') }} as master_record_id,
        archived as is_archived,
        _loaded_at as loaded_at

    from source

)

select * from renamed
