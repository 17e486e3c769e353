{#- The hand-off note sales gets when a contact enters SQL: one row per contact now an SQL, read by
    the push, which writes each note_key once (leadflow.crm_activities) - a re-run, a retry after a
    crash or an unchanged SQL writes nothing; a contact that enters SQL again has a new entry time,
    so a new key and a new note. The body is HTML (HubSpot shows notes as rich text): why now, the
    signals with their dates, fit, BANT answers, the last touches, the stage history and the owner.
    Every value from the source is escaped (macro html_escape) and each section is bounded, so a
    body stays far below HubSpot's 65,536 characters (the outgoing gate checks it). The optional
    task for the owner is due at the SQL first-touch SLA deadline.
    Incremental: a note is composed once, when its contact enters SQL (what the push writes once),
    so an hourly build composes only the new SQL entries' notes and drops the rows of contacts no
    longer SQL since that entry; its cost follows the new SQLs, not all of them (188,608 at 1M
    contacts in the benchmark). The first build ranks the last touches in one pass over the SQLs'
    activities; an hourly build with few new SQLs looks up their own (below). -#}
{{
    config(
        materialized='incremental',
        unique_key='contact_id',
        on_schema_change='append_new_columns',
        post_hook=[
            "{% if is_incremental() %}
                delete from {{ this }} as notes
                where not exists (
                    select from {{ ref('fct_lead_qualification') }} as qualification
                    where
                        qualification.contact_id = notes.contact_id
                        and qualification.leadflow_stage = 'sql'
                        and qualification.leadflow_stage_entered_at = notes.sql_entered_at
                )
            {% endif %}"
        ]
    )
}}

/* depends_on: {{ ref('int_contact_activities_summed') }}, {{ ref('int_contact_fit_signals_matched') }},
   {{ ref('int_scoring_settings_pivoted') }} (read in an hourly build only) */

{#- An hourly build with few new SQLs composes their notes by lookups (below), a few index probes
    per SQL; past var handoff_lookup_max_sqls new SQLs, one pass over the whole tables costs
    less (bench/README.md), so it takes the first build's form. -#}
{%- set by_lookup = is_incremental() and new_sql_entries() <= var('handoff_lookup_max_sqls') | int %}

{#- what a touch shows after its type: the form, else the page title, else the url -#}
{%- set touch_detail = "coalesce(last_touches.attributes ->> 'form_title', last_touches.attributes ->> 'page_title',"
    ~ " last_touches.attributes ->> 'url')" %}

with

qualification as (

    select qualification.* from {{ ref('fct_lead_qualification') }} as qualification
    where
        qualification.leadflow_stage = 'sql'
        -- sqlfluff's indent of this block flips with the hourly branches below
        -- noqa: disable=LT02
        {% if is_incremental() %}
            and {{ without_handoff_note('qualification') }}
        {% endif %}

),
-- noqa: enable=LT02

settings as (

    select * from {{ ref('int_scoring_settings_pivoted') }}

),

{% if by_lookup %}
    -- An hourly build composes the notes of the few new SQLs: their signals filtered at each
    -- source (macro lead_signals) and their last touches looked up by contact in the indexes.
    -- The first build's one pass over every SQL's activities and every contact's signals read
    -- 30M activities and 14M signals for 1,000 new SQLs at 1M contacts (111 s).
    sql_sums as materialized (

        select summed.*
        from {{ ref('int_contact_activities_summed') }} as summed
        where summed.contact_id in (select qualification.contact_id from qualification)

    ),

    positive_signals as (

        select
            listed.contact_id,
            listed.signal_category,
            listed.signal_text,
            row_number() over (partition by listed.contact_id order by {{ signal_rank_order('listed') }}) as signal_rank
        from ({{ lead_signals('qualification', 'sql_sums') }}) as listed
        where listed.direction = 'positive'

    ),

    last_touches as (

        select
            qualification.contact_id,
            touched.occurred_at,
            touched.activity_type,
            found.attributes
        from qualification
        inner join lateral (
            select
                classified.activity_id,
                classified.occurred_at,
                classified.activity_type
            from {{ ref('int_activities_classified') }} as classified
            where
                classified.contact_id = qualification.contact_id
                and not classified.is_duplicate
                and classified.activity_type is not null
                and classified.occurred_at <= qualification.as_of
            order by classified.occurred_at desc
            limit 8
        ) as touched on true
        -- a lateral, so that the kept touches are looked up one by one in the unique index
        -- (joined, the estimate of the new SQLs' count made it a hash join over every activity)
        inner join lateral (
            select found.attributes
            from {{ ref('int_activities') }} as found
            where found.activity_id = touched.activity_id
            limit 1  -- noqa: AM09
        ) as found on true

    ),
{% else %}
    positive_signals as (

        select
            signals.contact_id,
            signals.signal_category,
            signals.signal_text,
            signals.signal_rank
        from {{ ref('fct_lead_signals') }} as signals
        where
            signals.contact_id in (select qualification.contact_id from qualification)
            and signals.direction = 'positive'

    ),

    -- the last eight touches per SQL, newest first: ranked in one pass, then only those are read
    ranked_touches as (

        select
            classified.contact_id,
            classified.activity_id,
            classified.occurred_at,
            classified.activity_type,
            row_number() over (partition by classified.contact_id order by classified.occurred_at desc) as touch_rank
        from {{ ref('int_activities_classified') }} as classified
        inner join qualification on classified.contact_id = qualification.contact_id
        where
            not classified.is_duplicate
            and classified.activity_type is not null
            and classified.occurred_at <= qualification.as_of

    ),

    last_touches as (

        select
            ranked_touches.contact_id,
            ranked_touches.occurred_at,
            ranked_touches.activity_type,
            found.attributes
        from ranked_touches
        inner join {{ ref('int_activities') }} as found on ranked_touches.activity_id = found.activity_id
        where ranked_touches.touch_rank <= 8

    ),
{% endif %}

signals as (

    select
        positive_signals.contact_id,
        string_agg('<li>' || {{ html_escape('positive_signals.signal_text') }} || '</li>', '' order by positive_signals.signal_rank)
        filter (where positive_signals.signal_category = 'engagement') as engagement_items,
        string_agg({{ html_escape('positive_signals.signal_text') }}, '; ' order by positive_signals.signal_rank)
        filter (where positive_signals.signal_category = 'fit') as fit_text
    from positive_signals
    where positive_signals.signal_rank <= 5
    group by positive_signals.contact_id

),

touches as (

    select
        last_touches.contact_id,
        string_agg(
            '<li>' || {{ utc_date('last_touches.occurred_at') }} || ' ' || replace(last_touches.activity_type, '_', ' ')
            || coalesce(': ' || {{ html_escape('left(' ~ touch_detail ~ ', 120)') }}, '') || '</li>',
            '' order by last_touches.occurred_at desc
        ) as touch_items
    from last_touches
    group by last_touches.contact_id

),

stage_log as (

    select
        qualification.contact_id,
        string_agg(
            '<li>' || {{ utc_date('past.stage_entered_at') }} || ' ' || {{ stage_label('past.to_stage') }} || '</li>',
            '' order by past.observed_at desc
        ) as history_items
    from qualification
    inner join lateral (
        select
            history.observed_at,
            history.to_stage,
            history.stage_entered_at
        from {{ ref('fct_lead_stage_history') }} as history
        where history.contact_id = qualification.contact_id and history.observed_at <= qualification.as_of
        order by history.observed_at desc
        limit 6
    ) as past on true
    group by qualification.contact_id

),

contacts as (

    select
        contacts.contact_id,
        'budget ' || coalesce(contacts.bant_budget, '-') || ', authority ' || coalesce(contacts.bant_authority, '-')
        || ', need ' || coalesce(contacts.bant_need, '-') || ', timeframe ' || coalesce(contacts.bant_timeframe, '-')
            as bant_text
    from {{ ref('int_contacts_enriched') }} as contacts
    where contacts.contact_id in (select qualification.contact_id from qualification)

),

keyed as (

    select
        qualification.*,
        qualification.contact_id || '-sql-'
        || to_char(qualification.leadflow_stage_entered_at at time zone 'UTC', 'YYYYMMDD"T"HH24MISS') as note_key,
        contacts.bant_text,
        signals.engagement_items,
        signals.fit_text,
        touches.touch_items,
        stage_log.history_items
    from qualification
    left join contacts on qualification.contact_id = contacts.contact_id
    left join signals on qualification.contact_id = signals.contact_id
    left join touches on qualification.contact_id = touches.contact_id
    left join stage_log on qualification.contact_id = stage_log.contact_id

),

final as (

    select
        keyed.contact_id,
        keyed.note_key,
        keyed.owner_id,
        keyed.leadflow_stage_entered_at as sql_entered_at,
        '<p><strong>leadflow hand-off: SQL since ' || {{ utc_date('keyed.leadflow_stage_entered_at') }} || '</strong></p>'
        || '<p>Why now: ' || {{ html_escape('keyed.stage_reason') }} || '</p>'
        || coalesce('<p>Signals:</p><ul>' || keyed.engagement_items || '</ul>', '')
        || '<p>Fit: grade ' || keyed.leadflow_fit_grade || ', fit ' || keyed.fit_score || ', score '
        || keyed.leadflow_score || coalesce(' (' || keyed.fit_text || ')', '') || '</p>'
        || '<p>BANT: ' || {{ html_escape('keyed.bant_text') }} || '</p>'
        || coalesce('<p>Last touches:</p><ul>' || keyed.touch_items || '</ul>', '')
        || coalesce('<p>Stage history:</p><ul>' || keyed.history_items || '</ul>', '')
        || '<p>Contact: '
        || {{ html_escape("left(concat_ws(' ', keyed.first_name, keyed.last_name), 120)") }}
        || coalesce(', ' || {{ html_escape('left(keyed.job_title, 120)') }}, '')
        || coalesce(' at ' || {{ html_escape('left(keyed.company_name, 120)') }}, '')
        || coalesce(' &lt;' || {{ html_escape('keyed.email') }} || '&gt;', '') || '</p>'
        || '<p>Owner: ' || coalesce({{ html_escape('keyed.owner_email') }}, 'none assigned') || '</p>'
        -- the push finds a note it wrote (after a crash) by this line
        || '<p>leadflow ref ' || keyed.note_key || '</p>' as note_body,
        'Follow up SQL: ' || left(coalesce(nullif(concat_ws(' ', keyed.first_name, keyed.last_name), ''), keyed.email), 120)
            as task_subject,
        '<p>First touch due: the hand-off note on this contact (SQL since '
        || {{ utc_date('keyed.leadflow_stage_entered_at') }} || ') has the detail.</p>'
        || '<p>leadflow ref ' || keyed.note_key || '</p>' as task_body,
        keyed.leadflow_stage_entered_at + make_interval(hours => cast(settings.sla_sql_first_touch_hours as integer))
            as task_due_at
    from keyed
    cross join settings

)

select * from final
