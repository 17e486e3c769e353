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

final as (

    select
        contact_id,
        leadflow_stage,
        case leadflow_stage
            when 'customer'
                then
                    case when won_deal_count > 0 then 'closed-won deal' else 'CRM lifecycle stage ' || current_lifecyclestage end
            when 'opportunity' then 'open deal (' || open_deal_count || ')'
            when 'disqualified' then 'disqualified: ' || disqualification_reason
            when 'sql'
                then
                    'hand-raise on ' || to_char(first_recent_hand_raise_at at time zone 'UTC', 'YYYY-MM-DD')
                    || ', fit ' || fit_score || ' >= ' || sql_min_fit_score
            when 'sal'
                then
                    case
                        when lead_status_is_sales_accepted then 'owner assigned, lead status ' || lead_status
                        else 'sales touch on ' || to_char(last_sales_touch_at at time zone 'UTC', 'YYYY-MM-DD')
                    end
            when 'mql' then 'score ' || leadflow_score || ' >= ' || mql_min_score
            when 'nurture'
                then
                    case
                        when lead_status_is_nurture then 'lead status ' || lead_status
                        else 'cold: no engagement since '
                            || coalesce(to_char(last_engaged_at at time zone 'UTC', 'YYYY-MM-DD'), 'ever')
                            || ' (' || cold_after_days || 'd)'
                    end
            when 'lead' then 'ICP fit ' || fit_score
            else 'fit ' || fit_score || ' below ICP threshold'
        end as stage_reason,
        case when leadflow_stage = 'disqualified' then disqualification_reason end as disqualification_reason,
        least(
            as_of,
            coalesce(
                case leadflow_stage
                    when 'customer' then first_won_at
                    when 'opportunity' then first_open_deal_created_at
                    when 'disqualified' then disqualified_at
                    when 'sql' then first_recent_hand_raise_at
                    when 'sal'
                        then
                            case when lead_status_is_sales_accepted then last_modified_at else last_sales_touch_at end
                    when 'mql' then last_engaged_at
                    when 'nurture' then
                        case
                            when lead_status_is_nurture then last_modified_at
                            else last_engaged_at + make_interval(days => cast(cold_after_days as integer))
                        end
                end,
                created_at,
                as_of
            )
        ) as stage_computed_at,
        fit_score,
        fit_grade,
        engagement_score,
        leadflow_score,
        as_of
    from staged

)

select * from final
