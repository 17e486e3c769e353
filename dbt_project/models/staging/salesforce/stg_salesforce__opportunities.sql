with

source as (

    select * from {{ source('salesforce', 'salesforce_opportunities') }}

),

renamed as (

    select
        id as opportunity_id,
        {{ sf_id('AccountId') }} as account_id,
        {{ sf_field('Name') }} as opportunity_name,
        {{ sf_field('StageName') }} as stage_name,
        {{ sf_number('Amount') }} as amount,
        {{ sf_date('CloseDate') }} as close_date,
        {{ sf_bool('IsClosed') }} as is_closed,
        {{ sf_bool('IsWon') }} as is_won,
        {{ sf_id('OwnerId') }} as owner_id,
        {{ sf_timestamp('CreatedDate') }} as created_at,
        updated_at as modified_at,
        archived as is_archived,
        _loaded_at as loaded_at

    from source

)

select * from renamed
