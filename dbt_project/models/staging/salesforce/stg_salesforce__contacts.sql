with

source as (

    select * from {{ source('salesforce', 'salesforce_contacts') }}

),

renamed as (

    select
        id as contact_id,
        {{ sf_id('AccountId') }} as account_id,
        lower({{ sf_field('Email') }}) as email,
        {{ sf_field('FirstName') }} as first_name,
        {{ sf_field('LastName') }} as last_name,
        {{ sf_field('Title') }} as job_title,
        {{ sf_field('Phone') }} as phone,
        {{ sf_field('Department') }} as department,
        {{ sf_field('MailingCountry') }} as country,
        {{ sf_field('MailingCity') }} as city,
        {{ sf_field('LeadSource') }} as lead_source,
        {{ sf_id('OwnerId') }} as owner_id,
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
