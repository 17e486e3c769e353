{#- Per contact with events: engagement score 0–100 at as_of (capped activity points + inactivity
    penalty, clamped), engagement/hand-raise timestamps and the event-based disqualification.

    Incremental per contact, like int_lead_reasons_summarized: the score is an integer, and between two
    changes of a contact's sums it moves only with time, along a curve known in advance. All
    decaying points share one half-life, so until a capped activity decays below its cap the
    points are C + P * 0.5 ^ (t / half_life): C the points that stay (capped or not decaying), P
    the rest. The score changes when that crosses the next rounding boundary in the direction it
    moves, or when the inactivity penalty starts (inactivity_after_days after the last
    engagement); the first recent hand-raise leaves its window sql_hand_raise_window_days after it
    happened. Each row keeps valid_until, a minute before the earliest of these times; an hourly
    build recomputes the contacts past it and those whose sums were written since the previous
    build. The pre-hook empties the table when the rules changed or as_of moved backwards (a
    backfill), drops merged-away contacts (their sums are gone) and gives the transaction 128MB of
    work_mem, as int_lead_reasons_summarized has. -#}
{{
    config(
        materialized='incremental',
        unique_key='contact_id',
        pre_hook=["set local work_mem = '128MB'",
            "{% if is_incremental() %}
            {{ start_over_on_new_rules_or_backfill() }};
            delete from {{ this }}
            where contact_id in (
                select contact_merges.old_contact_id from {{ crm_ref('person_merges') }} as contact_merges
            )
        {% endif %}"],
        post_hook=["{{ vacuum_hourly() }}"]
    )
}}

/* depends_on: {{ crm_ref('person_merges') }}, {{ ref('int_contact_activities_summed') }}
   (read in an hourly build only) */

with

settings as (

    select * from {{ ref('int_scoring_settings_pivoted') }}

),

{% if is_incremental() %}
    previous as (

        select max(built_as_of) as built_as_of from {{ this }}

    ),

    due_contacts as (

        select stored.contact_id
        from {{ this }} as stored
        where stored.valid_until <= (select as_of from settings)

    ),

    -- the activity rows of the contacts to recompute: those whose sums were written after the
    -- previous build or in a build at this as_of (a re-run; all the rows of a contact are
    -- written together), every row when the table is empty, and the rows of the due contacts.
    -- One filter in the scan: a semi join with the set of those contacts probed every row. Read
    -- once for the three CTEs below, which each scanned the table before.
    recomputed_sums as materialized (

        select summed.*
        from {{ ref('int_contact_activities_summed') }} as summed
        where
            {{ written_since_previous_build('summed.built_as_of') }}
            or summed.contact_id in (select due_contacts.contact_id from due_contacts)

    ),

    {% set activities = '(' ~ activities_scored(sums='recomputed_sums') ~ ')' %}
{% else %}
    {#- a full build reads the view in each CTE, so that the filters of the two small subsets
        (hand-raise and disqualifying activities) reach the table -#}
    {% set activities = ref('int_contact_activities_scored') %}
{% endif %}

activity_totals as (

    select
        contact_id,
        max(last_engaged_at) as last_engaged_at,
        max(last_occurred_at) filter (where is_hand_raise) as last_hand_raise_at,
        max(last_occurred_at) filter (where disqualification_reason is not null) as event_disqualified_at,
        cast(sum(capped_points) as numeric) as activity_points,
        cast(sum(capped_points_at_last_engagement) as numeric) as activity_points_at_last_engagement,
        -- P: the decaying points below their cap, and when the first capped one drops below it
        coalesce(sum(capped_points) filter (where decays and capped_points = decayed_points), 0) as decaying_points,
        min(ln(abs(decayed_points) / cap_points))
        filter (where decays and capped_points <> decayed_points and cap_points > 0) as smallest_ln_over_cap
    -- an alias, which the hourly build's subquery needs
    from {{ activities }} as activities  -- noqa: AL05
    group by contact_id

),

recent_hand_raises as (

    select
        activities.contact_id,
        min(cast(hand_raise.occurred_at as timestamp with time zone)) as first_recent_hand_raise_at
    from {{ activities }} as activities
    cross join jsonb_array_elements_text(activities.hand_raise_times) as hand_raise (occurred_at)
    -- the hourly subquery in `activities` has a settings CTE of its own, in another scope
    cross join settings  -- noqa: AL04
    where
        activities.hand_raise_times is not null
        and cast(hand_raise.occurred_at as timestamp with time zone)
        >= settings.as_of - make_interval(days => cast(settings.sql_hand_raise_window_days as integer))
    group by activities.contact_id

),

disqualifications as (

    select distinct on (contact_id)
        contact_id,
        disqualification_reason
    from {{ activities }} as activities  -- noqa: AL05
    where disqualification_reason is not null
    order by contact_id asc, last_occurred_at desc, activity_key desc

),

-- one chain of CTEs, each read once: a CTE read twice is materialized, and joining event_facts
-- back to itself cost seconds at 1M contacts
event_facts as (

    select
        activity_totals.*,
        recent_hand_raises.first_recent_hand_raise_at,
        disqualifications.disqualification_reason as event_disqualification_reason,
        {{ inactivity_points('activity_totals.last_engaged_at') }} as inactivity_points,
        coalesce(activity_totals.activity_points, 0) + {{ inactivity_points('activity_totals.last_engaged_at') }}
            as unrounded_score
    from activity_totals
    cross join settings
    left join recent_hand_raises on activity_totals.contact_id = recent_hand_raises.contact_id
    left join disqualifications on activity_totals.contact_id = disqualifications.contact_id

),

-- the rounding boundary the points reach next as P decays towards zero (null: the clamped score
-- cannot change that way)
score_boundaries as (

    select
        event_facts.*,
        case
            when event_facts.decaying_points > 0
                then case
                        when event_facts.unrounded_score >= 99.5 then 99.5
                        when event_facts.unrounded_score >= 0.5 then round(event_facts.unrounded_score) - 0.5
                    end
            when event_facts.decaying_points < 0 then case
                    when event_facts.unrounded_score < 0.5 then 0.5
                    when event_facts.unrounded_score < 99.5 then round(event_facts.unrounded_score) + 0.5
                end
        end as next_boundary
    from event_facts

),

-- the share of P left when the points reach that boundary (never, unless it lies in (0, 1])
score_steps as (

    select
        score_boundaries.*,
        (cast(score_boundaries.next_boundary - score_boundaries.unrounded_score as float8) + score_boundaries.decaying_points)
        / nullif(score_boundaries.decaying_points, 0)
            as decaying_share_at_boundary
    from score_boundaries

),

final as (

    select
        score_steps.contact_id,
        cast({{ clamp('round(score_steps.unrounded_score)') }} as integer) as engagement_score,
        cast({{ clamp('round(coalesce(score_steps.activity_points_at_last_engagement, 0))') }} as integer)
            as engagement_score_at_last_engagement,
        score_steps.inactivity_points,
        score_steps.last_engaged_at,
        score_steps.last_hand_raise_at,
        score_steps.first_recent_hand_raise_at,
        score_steps.first_recent_hand_raise_at is not null as has_recent_hand_raise,
        score_steps.event_disqualification_reason,
        score_steps.event_disqualified_at,
        -- least() skips nulls: a time that does not apply
        least(
            case
                when score_steps.decaying_share_at_boundary > 0
                    then settings.as_of
                        + make_interval(secs => {{ seconds_to_decay('-ln(score_steps.decaying_share_at_boundary)') }})
            end,
            settings.as_of + make_interval(secs => {{ seconds_to_decay('score_steps.smallest_ln_over_cap') }}),
            case
                when score_steps.inactivity_points = 0 then {{ inactivity_starts_at('score_steps.last_engaged_at') }}
            end,
            score_steps.first_recent_hand_raise_at
            + make_interval(days => cast(settings.sql_hand_raise_window_days as integer))
        ) - interval '1 minute' as valid_until,
        settings.rules_hash,
        settings.as_of as built_as_of
    from score_steps
    cross join settings

)

-- Written in contact order: rows in the order a hash aggregate emits them made the unique test's
-- own hash aggregate, short of memory at 1M contacts, probe ever longer runs of its table (it
-- stalled the bench's hourly build)
select * from final
order by contact_id
