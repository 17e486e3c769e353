{#- The stage machine: exactly one stage per contact, by precedence
        customer > opportunity > disqualified > sql > sal > mql | nurture > lead > suspect
    - customer: a closed-won deal, or the CRM already says customer/evangelist (never downgraded)
    - opportunity: an open deal
    - disqualified: any reason (lowest disqualification_reasons.priority wins): bad_data (missing/malformed
      email), fit rule (competitor, student), lead status (UNQUALIFIED), BANT 'no' with a reason, or an
      event (hard bounce, unsubscribe) unless a hand-raise happened after it
    - sql: hand-raise within sql_hand_raise_window_days AND fit >= sql_min_fit_score AND no BANT 'no'
    - sal: owner assigned AND (lead status counts as sales-accepted, OR the owner's call, meeting or
      outgoing email in the last sal_sales_touch_days on a lead that is MQL-qualified or raised a hand)
    - mql: combined score >= mql_min_score AND fit >= mql_min_fit_score AND not cold
    - nurture: lead status puts in nurture, or cold (no engagement for cold_after_days) while qualified now
      or qualified when it went quiet (score at last engagement, any hand-raise, or CRM lifecycle MQL/SQL);
      new engagement makes it re-qualify
    - lead: fit >= lead_min_fit_score; suspect: everything else
    stage_computed_at is the deterministic event time that triggered the stage (history refines it). -#}
with

features as (

    select * from {{ ref('int_lead_features_derived') }}

),

settings as (

    select * from {{ ref('int_scoring_settings_pivoted') }}

),

disqualification_reasons as (

    select * from {{ ref('disqualification_reasons') }}

),

disqualification_candidates as (

    select
        contact_id,
        'bad_data' as reason_code,
        created_at as reason_at
    from features
    where not is_email_valid

    union all

    select
        contact_id,
        fit_disqualification_reason,
        created_at
    from features
    where fit_disqualification_reason is not null

    union all

    select
        contact_id,
        lead_status_disqualification_reason,
        last_modified_at
    from features
    where lead_status_disqualification_reason is not null

    union all

    select
        contact_id,
        bant_disqualification_reason,
        last_modified_at
    from features
    where bant_disqualification_reason is not null

    union all

    select
        contact_id,
        event_disqualification_reason,
        event_disqualified_at
    from features
    where
        event_disqualification_reason is not null
        and (last_hand_raise_at is null or last_hand_raise_at < event_disqualified_at)

),

disqualifications as (

    select distinct on (disqualification_candidates.contact_id)
        disqualification_candidates.contact_id,
        disqualification_candidates.reason_code as disqualification_reason,
        disqualification_candidates.reason_at as disqualified_at
    from disqualification_candidates
    left join disqualification_reasons
        on disqualification_candidates.reason_code = disqualification_reasons.reason_code
    order by
        disqualification_candidates.contact_id asc,
        disqualification_reasons.priority asc nulls last,
        disqualification_candidates.reason_code asc

),

flagged as (

    select
        features.*,
        settings.as_of,
        settings.cold_after_days,
        settings.mql_min_score,
        settings.sql_min_fit_score,
        settings.lead_min_fit_score,
        disqualifications.disqualification_reason,
        disqualifications.disqualified_at,
        (features.won_deal_count > 0 or coalesce(features.current_lifecyclestage in ('customer', 'evangelist'), false))
            as is_customer,
        features.open_deal_count > 0 as is_opportunity,
        (
            features.has_recent_hand_raise
            and features.fit_score >= settings.sql_min_fit_score
            and not features.bant_blocks_sql
        ) as is_sql_qualified,
        (
            features.has_owner
            and (
                features.lead_status_is_sales_accepted
                or (
                    settings.sal_sales_touch_days > 0
                    and features.last_sales_touch_at
                    >= settings.as_of - make_interval(days => cast(settings.sal_sales_touch_days as integer))
                    and (
                        features.last_hand_raise_at is not null
                        or (
                            features.leadflow_score >= settings.mql_min_score
                            and features.fit_score >= settings.mql_min_fit_score
                        )
                    )
                )
            )
        ) as is_sales_accepted,
        (features.leadflow_score >= settings.mql_min_score and features.fit_score >= settings.mql_min_fit_score)
            as is_mql_qualified,
        (
            features.last_engaged_at is null
            or features.last_engaged_at < settings.as_of - make_interval(days => cast(settings.cold_after_days as integer))
        ) as is_cold,
        (
            (
                features.leadflow_score_at_last_engagement >= settings.mql_min_score
                and features.fit_score >= settings.mql_min_fit_score
            )
            or features.last_hand_raise_at is not null
            or coalesce(features.current_lifecyclestage in ('marketingqualifiedlead', 'salesqualifiedlead'), false)
        ) as was_qualified,
        features.fit_score >= settings.lead_min_fit_score as is_icp_fit
    from features
    cross join settings
    left join disqualifications on features.contact_id = disqualifications.contact_id

),

staged as (

    select
        *,
        case
            when is_customer then 'customer'
            when is_opportunity then 'opportunity'
            when disqualification_reason is not null then 'disqualified'
            when is_sql_qualified then 'sql'
            when is_sales_accepted then 'sal'
            when is_mql_qualified and not is_cold then 'mql'
            when lead_status_is_nurture then 'nurture'
            when is_cold and (is_mql_qualified or was_qualified) then 'nurture'
            when is_icp_fit then 'lead'
            else 'suspect'
        end as leadflow_stage
    from flagged

),

-- why each contact is in its stage: a code of seed stage_reasons (for a disqualification, its
-- reason code), and for an SQL the activity that raised its hand (an index probe per SQL only)
coded as (

    select
        staged.*,
        case staged.leadflow_stage
            when 'customer' then case when staged.won_deal_count > 0 then 'closed_won' else 'crm_lifecycle' end
            when 'opportunity' then 'open_deal'
            when 'disqualified' then staged.disqualification_reason
            when 'sql' then 'hand_raise'
            when 'sal' then case when staged.lead_status_is_sales_accepted then 'lead_status' else 'sales_touch' end
            when 'mql' then 'score'
            when 'nurture'
                then
                    case
                        when staged.lead_status_is_nurture then 'lead_status'
                        when staged.last_engaged_at is null then 'never_engaged'
                        else 'cold'
                    end
            when 'lead' then 'icp_fit'
            else 'below_icp'
        end as stage_reason_code,
        hand_raise.label as hand_raise_label
    from staged
    left join lateral (
        select activities.label
        from {{ ref('int_activities_classified') }} as activities
        where
            staged.leadflow_stage = 'sql'
            and activities.contact_id = staged.contact_id
            and activities.is_hand_raise
            and activities.occurred_at = staged.first_recent_hand_raise_at
        order by activities.activity_key asc
        limit 1
    ) as hand_raise on true

),

timed as (

    select
        coded.*,
        least(
            coded.as_of,
            coalesce(
                case coded.leadflow_stage
                    when 'customer' then coded.first_won_at
                    when 'opportunity' then coded.first_open_deal_created_at
                    when 'disqualified' then coded.disqualified_at
                    when 'sql' then coded.first_recent_hand_raise_at
                    when 'sal'
                        then
                            case when coded.lead_status_is_sales_accepted then coded.last_modified_at else coded.last_sales_touch_at end
                    when 'mql' then coded.last_engaged_at
                    when 'nurture' then
                        case
                            when coded.lead_status_is_nurture then coded.last_modified_at
                            else coded.last_engaged_at + make_interval(days => cast(coded.cold_after_days as integer))
                        end
                end,
                coded.created_at,
                coded.as_of
            )
        ) as stage_computed_at
    from coded

),

-- the values a stage reason can name, as text (seed stage_reasons' placeholders)
reason_values as (

    select
        timed.*,
        {{ utc_date('timed.stage_computed_at') }} as since_text,
        coalesce(timed.hand_raise_label, 'hand-raise') as hand_raise_text,
        coalesce(timed.bant_yes_fields || ' yes', 'not answered') as bant_text,
        coalesce(timed.owner_email, 'the owner') as owner_text,
        coalesce({{ utc_date('timed.last_engaged_at') }}, 'none') as last_engaged_text,
        coalesce(cast(cast(extract(day from timed.as_of - timed.last_engaged_at) as integer) as text), 'none')
            as days_inactive_text
    from timed

),

final as (

    select
        reason_values.contact_id,
        reason_values.leadflow_stage,
        reason_values.stage_reason_code,
        -- {was} is left for the readers that know the stage before (the stage log, the mart)
        {{ render_template('stage_reasons.template', {
            'since': 'reason_values.since_text',
            'hand_raise': 'reason_values.hand_raise_text',
            'grade': 'reason_values.fit_grade',
            'fit': 'reason_values.fit_score',
            'score': 'reason_values.leadflow_score',
            'bant': 'reason_values.bant_text',
            'bant_field': 'reason_values.bant_disqualification_field',
            'bant_label': 'reason_values.bant_disqualification_label',
            'owner': 'reason_values.owner_text',
            'lead_status': 'reason_values.lead_status',
            'lifecyclestage': 'reason_values.current_lifecyclestage',
            'open_deals': 'reason_values.open_deal_count',
            'email_domain': 'reason_values.email_domain',
            'title': 'reason_values.job_title',
            'last_engaged': 'reason_values.last_engaged_text',
            'days_inactive': 'reason_values.days_inactive_text',
            'mql_min_score': 'reason_values.mql_min_score',
            'lead_min_fit_score': 'reason_values.lead_min_fit_score',
        }) }} as stage_reason,
        case when reason_values.leadflow_stage = 'disqualified' then reason_values.disqualification_reason end as disqualification_reason,
        reason_values.stage_computed_at,
        reason_values.fit_score,
        reason_values.fit_grade,
        reason_values.engagement_score,
        reason_values.leadflow_score,
        reason_values.as_of
    from reason_values
    left join {{ ref('stage_reasons') }} as stage_reasons
        on reason_values.leadflow_stage = stage_reasons.stage and reason_values.stage_reason_code = stage_reasons.reason_code

)

select * from final
