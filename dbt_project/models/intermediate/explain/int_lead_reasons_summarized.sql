{#- Per contact with scoring signals: the reasons text pushed to the CRM, the top four positive
    then the top three negative signals of int_lead_signals_listed in signal_rank_order() (and a row
    without text for an active contact without signals, until its inactivity penalty). Its own node
    rather than a CTE of fct_lead_qualification: it runs beside the engagement and stage models,
    which it does not read. Two ordered aggregates per contact, not a window rank then a filter
    and a second sort.

    Incremental per contact, because the text changes far less often than the scores: it shows
    integer points, fit points change only with the contact, and an activity's decayed points
    cross the next rounding boundary at a time known in advance (they halve every
    half_life_days). Each row keeps valid_until, the earliest such time (or the start of the
    inactivity penalty); an hourly build recomputes the contacts past it, those whose sums or fit
    score were written since the previous build, and those that left the fit scores or were
    merged away (their row is dropped when no signal is left). Fit changes are read from
    int_contact_fit_scored, one row per contact, rewritten whenever the contact's fit matches are
    (a smaller table than the fit signals), and the recomputed contacts' activity rows are read
    from the sums once, for their signals and their last engagement, instead of in three scans.
    The pre-hook empties the table when the rules changed or as_of moved backwards (a backfill),
    and gives this transaction 128MB of work_mem: with the default 4MB the hourly select's hash
    joins and sorts spilled to disk. -#}
{{
    config(
        materialized='incremental',
        unique_key='contact_id',
        pre_hook=["set local work_mem = '128MB'",
            "{% if is_incremental() %}
            {{ start_over_on_new_rules_or_backfill() }}
        {% endif %}"],
        post_hook=[
            "delete from {{ this }} where leadflow_reasons is null and valid_until is null",
            "{{ vacuum_hourly() }}"
        ]
    )
}}

/* depends_on: {{ ref('int_contact_fit_signals_matched') }}, {{ ref('int_contact_fit_scored') }},
   {{ crm_ref('person_merges') }} (read in an hourly build only) */

with

settings as (

    select * from {{ ref('int_scoring_settings_pivoted') }}

),

{% if is_incremental() %}
    previous as (

        select max(built_as_of) as built_as_of from {{ this }}

    ),

    -- inputs written after the previous build or in a build at this as_of (a re-run), all of
    -- them when the table is empty; one hashed distinct over the branches (as a union, each
    -- branch was sorted to merge them)
    recomputed_contacts as (

        select distinct changed.contact_id
        from (

            select written.contact_id
            from (
                select
                    contact_id,
                    built_as_of
                from {{ ref('int_contact_activities_summed') }}
                union all
                select
                    contact_id,
                    built_as_of
                from {{ ref('int_contact_fit_scored') }}
            ) as written
            where
                {{ written_since_previous_build('written.built_as_of') }}

            union all

            select stored.contact_id
            from {{ this }} as stored
            where
                stored.valid_until <= (select as_of from settings)
                or stored.contact_id in (
                    select contact_merges.old_contact_id from {{ crm_ref('person_merges') }} as contact_merges
                )

            union all

            -- its own branch, so that it runs as one anti join rather than a probe per row
            select stored.contact_id
            from {{ this }} as stored
            where
                stored.has_fit_signals
                and not exists (
                    select from {{ ref('int_contact_fit_scored') }} as fit
                    where fit.contact_id = stored.contact_id
                )

        ) as changed

    ),

    recomputed_sums as materialized (

        select summed.*
        from {{ ref('int_contact_activities_summed') }} as summed
        where summed.contact_id in (select recomputed_contacts.contact_id from recomputed_contacts)

    ),
{% endif %}

-- an hourly build reads int_lead_signals_listed' select filtered at each source (see the macros):
-- filtering the views would compute every contact's signals first
signals as (

    {% if is_incremental() %}
        {{ lead_signals('recomputed_contacts', 'recomputed_sums') }}
    {% else %}
        select * from {{ ref('int_lead_signals_listed') }}
    {% endif %}

),

-- the last engagement of the recomputed contacts that are still active: the inactivity penalty
-- starts inactivity_after_days later (read from the sums, since a contact whose activities
-- round to zero points has no engagement signal to carry it)
active_contacts as (

    select
        summed.contact_id,
        max(summed.last_engaged_at) as last_engaged_at
    from {{ 'recomputed_sums' if is_incremental() else ref('int_contact_activities_summed') }} as summed
    where summed.last_engaged_at >= (select {{ inactivity_cutoff() }} from settings)
    group by summed.contact_id

),

ranked as (

    select
        contact_id,
        (array_agg(signal_text order by {{ signal_rank_order() }}) filter (where direction = 'positive'))[1:4]
            as top_positive,
        (array_agg(signal_text order by {{ signal_rank_order() }}) filter (where direction = 'negative'))[1:3]
            as top_negative,
        bool_or(signal_category = 'fit') as has_fit_signals,
        min(seconds_valid) as decay_seconds_valid
    from signals
    group by contact_id

),

-- a row per contact with signals, or without signals but still active (the inactivity penalty
-- will give it one at valid_until)
final as (

    select
        coalesce(ranked.contact_id, active_contacts.contact_id) as contact_id,
        case
            when ranked.contact_id is not null
                then left(array_to_string(coalesce(ranked.top_positive, '{}') || coalesce(ranked.top_negative, '{}'), '; '), 500)
        end as leadflow_reasons,
        coalesce(ranked.has_fit_signals, false) as has_fit_signals,
        -- the first rounding step or the start of the inactivity penalty, a minute early so
        -- that float rounding can only recompute a contact too soon
        least(
            settings.as_of + make_interval(secs => ranked.decay_seconds_valid),
            {{ inactivity_starts_at('active_contacts.last_engaged_at') }}
        ) - interval '1 minute' as valid_until,
        settings.rules_hash,
        settings.as_of as built_as_of
    from ranked
    full outer join active_contacts on ranked.contact_id = active_contacts.contact_id
    cross join settings

    {% if is_incremental() %}
        -- a recomputed contact left with neither replaces its old row with one the post-hook drops
        union all

        select
            recomputed_contacts.contact_id,
            null as leadflow_reasons,
            false as has_fit_signals,
            null as valid_until,
            settings.rules_hash,
            settings.as_of as built_as_of
        from recomputed_contacts
        cross join settings
        where
            not exists (
                select from ranked
                where ranked.contact_id = recomputed_contacts.contact_id
            )
            and not exists (
                select from active_contacts
                where active_contacts.contact_id = recomputed_contacts.contact_id
            )
    {% endif %}

)

select * from final
