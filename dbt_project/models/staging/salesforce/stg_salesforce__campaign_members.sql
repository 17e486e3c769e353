with

source as (

    select * from {{ source('salesforce', 'salesforce_campaign_members') }}

),

renamed as (

    select
        id as campaign_member_id,
        {{ sf_id('CampaignId') }} as campaign_id,
        {{ sf_id('LeadId') }} as lead_id,
        {{ sf_id('ContactId') }} as contact_id,
        {{ sf_field('Status') }} as member_status,
        {{ sf_bool('HasResponded') }} as has_responded,
        {{ sf_date('FirstRespondedDate') }} as first_responded_on,
        {{ sf_timestamp('CreatedDate') }} as created_at,
        -- when it responded: FirstRespondedDate is a date, so a member added on the day it
        -- responded (a form's campaign) keeps the time it was added
        case
            when {{ sf_bool('HasResponded') }}
                then
                    case
                        when {{ sf_date('FirstRespondedDate') }} > {{ sf_timestamp('CreatedDate') }}::date
                            then {{ sf_date('FirstRespondedDate') }}::timestamptz
                        else {{ sf_timestamp('CreatedDate') }}
                    end
        end as responded_at,
        archived as is_archived,
        _loaded_at as loaded_at

    from source

)

select * from renamed
