{#- Everything the stage machine needs, one row per non-archived contact: fit, engagement,
    combined score, deals, lead-status and BANT rule outcomes, the owner's last sales touch. -#}
with

contacts as (

    select * from {{ ref('int_contacts_enriched') }}

),

fit as (

    select * from {{ ref('int_contact_fit_scored') }}

),

engagement as (

    select * from {{ ref('int_contact_engagement_scored') }}

),

deals as (

    select * from {{ ref('int_contact_deals_summarized') }}

),

lead_status_rules as (

    select * from {{ ref('lead_status_rules') }}
    where source = '{{ crm_source() }}'

),

bant_rules as (

    select * from {{ ref('bant_rules') }}

),

disqualification_reasons as (

    select * from {{ ref('disqualification_reasons') }}

),

settings as (

    select * from {{ ref('int_scoring_settings_pivoted') }}

),

sales_touches as (

    select
        contact_id,
        max(occurred_at) as last_sales_touch_at
    from {{ ref('int_activities_classified') }}
    where is_sales_touch and occurred_at <= {{ as_of() }}
    group by contact_id

),

bant_answers as (

    select
        contacts.contact_id,
        answers.bant_field,
        answers.answer
    from contacts
    cross join
        lateral (
            values
            ('bant_budget', contacts.bant_budget),
            ('bant_authority', contacts.bant_authority),
            ('bant_need', contacts.bant_need),
            ('bant_timeframe', contacts.bant_timeframe)
        ) as answers (bant_field, answer)
    where answers.answer in ('yes', 'no')

),

bant_outcomes as (

    select
        bant_answers.contact_id,
        coalesce(bool_or(bant_rules.blocks_sql_when_no) filter (where bant_answers.answer = 'no'), false)
            as bant_blocks_sql,
        string_agg(bant_rules.label, ', ' order by bant_rules.bant_field) filter (where bant_answers.answer = 'no')
            as bant_no_fields,
        string_agg(bant_rules.label, '/' order by bant_rules.bant_field) filter (where bant_answers.answer = 'yes')
            as bant_yes_fields,
        -- the 'no' that disqualifies (the lowest priority reason), with its field and label
        (
            array_agg(
                array[bant_rules.disqualification_reason_when_no, bant_rules.bant_field, bant_rules.label]
                order by disqualification_reasons.priority asc
            )
            filter (where bant_answers.answer = 'no' and bant_rules.disqualification_reason_when_no is not null)
        )[1:1] as bant_disqualification
    from bant_answers
    inner join bant_rules on bant_answers.bant_field = bant_rules.bant_field
    left join disqualification_reasons
        on bant_rules.disqualification_reason_when_no = disqualification_reasons.reason_code
    group by bant_answers.contact_id

),

final as (

    select
        contacts.contact_id,
        contacts.email,
        contacts.is_email_valid,
        contacts.current_lifecyclestage,
        contacts.lead_status,
        contacts.has_owner,
        contacts.owner_email,
        contacts.email_domain,
        contacts.job_title,
        contacts.created_at,
        contacts.last_modified_at,
        fit.fit_score,
        fit.fit_grade,
        fit.fit_disqualification_reason,
        coalesce(engagement.engagement_score, 0) as engagement_score,
        coalesce(engagement.engagement_score_at_last_engagement, 0) as engagement_score_at_last_engagement,
        cast({{ clamp('round(settings.fit_weight * fit.fit_score + settings.engagement_weight * coalesce(engagement.engagement_score, 0))') }} as integer)
            as leadflow_score,
        cast({{ clamp(
            'round(settings.fit_weight * fit.fit_score'
            ~ ' + settings.engagement_weight * coalesce(engagement.engagement_score_at_last_engagement, 0))'
        ) }} as integer) as leadflow_score_at_last_engagement,
        engagement.last_engaged_at,
        engagement.last_hand_raise_at,
        engagement.first_recent_hand_raise_at,
        coalesce(engagement.has_recent_hand_raise, false) as has_recent_hand_raise,
        engagement.event_disqualification_reason,
        engagement.event_disqualified_at,
        coalesce(lead_status_rules.counts_as_sales_accepted, false) as lead_status_is_sales_accepted,
        coalesce(lead_status_rules.puts_in_nurture, false) as lead_status_is_nurture,
        lead_status_rules.disqualification_reason as lead_status_disqualification_reason,
        coalesce(bant_outcomes.bant_blocks_sql, false) as bant_blocks_sql,
        bant_outcomes.bant_no_fields,
        bant_outcomes.bant_yes_fields,
        bant_outcomes.bant_disqualification[1][1] as bant_disqualification_reason,
        bant_outcomes.bant_disqualification[1][2] as bant_disqualification_field,
        bant_outcomes.bant_disqualification[1][3] as bant_disqualification_label,
        coalesce(deals.open_deal_count, 0) as open_deal_count,
        coalesce(deals.won_deal_count, 0) as won_deal_count,
        deals.first_deal_created_at,
        deals.first_open_deal_created_at,
        deals.first_won_at,
        sales_touches.last_sales_touch_at
    from contacts
    cross join settings
    inner join fit on contacts.contact_id = fit.contact_id
    left join engagement on contacts.contact_id = engagement.contact_id
    left join deals on contacts.contact_id = deals.contact_id
    left join sales_touches on contacts.contact_id = sales_touches.contact_id
    left join lead_status_rules on contacts.lead_status = lead_status_rules.lead_status
    left join bant_outcomes on contacts.contact_id = bant_outcomes.contact_id

)

select * from final
