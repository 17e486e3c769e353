with

source as (

    select * from {{ source('salesforce', 'salesforce_leads') }}

),

renamed as (

    select
        id as lead_id,
        lower({{ sf_field('Email') }}) as email,
        {{ sf_field('FirstName') }} as first_name,
        -- Salesforce fills the required LastName and Company it was not given with
        -- "[not provided]" (web-to-lead, imports): that is no value
        nullif({{ sf_field('LastName') }}, '[not provided]') as last_name,
        {{ sf_field('Title') }} as job_title,
        {{ sf_field('Phone') }} as phone,
        nullif({{ sf_field('Company') }}, '[not provided]') as company_name,
        {{ sf_field('Website') }} as website,
        {{ sf_field('Industry') }} as industry,
        {{ sf_number('NumberOfEmployees') }} as employees,
        {{ sf_field('Country') }} as country,
        {{ sf_field('City') }} as city,
        {{ sf_field('LeadSource') }} as lead_source,
        {{ sf_field('Status') }} as lead_status,
        {{ sf_field('Rating') }} as rating,
        {{ sf_id('OwnerId') }} as owner_id,
        {{ sf_bool('IsConverted') }} as is_converted,
        {{ sf_date('ConvertedDate') }} as converted_on,
        {{ sf_id('ConvertedContactId') }} as converted_contact_id,
        {{ sf_id('ConvertedAccountId') }} as converted_account_id,
        {{ sf_id('ConvertedOpportunityId') }} as converted_opportunity_id,
        {{ sf_bool('HasOptedOutOfEmail') }} as has_opted_out_of_email,
        {{ sf_timestamp('EmailBouncedDate') }} as email_bounced_at,
        {{ sf_id('MasterRecordId') }} as master_record_id,
        {{ sf_timestamp('CreatedDate') }} as created_at,
        {{ sf_leadflow_fields() }},
        updated_at as modified_at,
        archived as is_archived,
        _loaded_at as loaded_at

    from source

)

select * from renamed
