{#- Per contact and activity_key: sums of the contact's classified events up to as_of that do not
    depend on as_of, so scoring at any later time is one multiplication per row (see
    int_contact_activities_scored). Decaying points are stored decayed to the activity's last event
    (points_at_last_occurrence) and to the contact's last engagement (points_at_last_engagement).

    Incremental and additive, so an hourly build costs what arrived, not what is stored: events not
    yet counted (loaded since the previous build, or come into scope as as_of advanced) are folded
    into the stored sums of their contacts (a sum decayed to time L is carried to a later L' by
    multiplying with 0.5 ^ ((L' - L) / half_life)). A contact whose last engagement moved to before
    one of its earlier events (a late-arriving event) is recomputed from all its events, and so is
    the survivor of a merge recorded since the previous build (int_activities_classified re-keyed the
    old contact's events to it without a new load time), and so are the contacts of an activity
    read again after it changed (replaced_contact_id: adding it would count it twice). The pre-hooks empty the table when the
    rules changed or as_of moved backwards (a backfill), and an empty table recomputes every
    contact; they also drop the rows of contacts merged away since the previous build. That can
    lower the load watermark only if the dropped rows held it, and then the events read again are
    the merged-away contacts' own, which now belong to survivors recomputed from scratch in this
    build: nothing is counted twice.

    Hourly builds plan without nested loops (set local: this model's transaction only): an hourly
    slice of the stored sums is joined best by hashing. With the key index the table once had, the
    planner fetched the stored rows one contact at a time in random heap order, slower than a scan
    and a hash join. They also get 256MB of work_mem: with the default 4MB that slice,
    materialized once and hashed for the fold, spilled to disk.

    One row per contact and activity by construction: each branch groups by that key, folding
    joins on it, and a contact is either folded or recomputed. No unique index checks it at run
    time: its upkeep was most of an hourly insert,
    and a data test would scan the whole table on the critical path. tests/test_dbt_rules.py
    compares hourly builds with full rebuilds, where a duplicate row shows. -#}
{{
    config(
        materialized='incremental',
        unique_key='contact_id',
        pre_hook=["{% if is_incremental() %}
            set local enable_nestloop = off;
            set local work_mem = '256MB';
            {{ start_over_on_new_rules_or_backfill() }}
        {% endif %}",
        "{% if is_incremental() %}
            delete from {{ this }}
            where contact_id in (
                select contact_merges.old_contact_id from {{ crm_ref('person_merges') }} as contact_merges
                where contact_merges.loaded_at > (select max(built.last_loaded_at) from {{ this }} as built)
            )
        {% endif %}"],
        post_hook=["{{ vacuum_hourly() }}"]
    )
}}

/* depends_on: {{ crm_ref('person_merges') }} (read in the incremental branch and a pre-hook) */

{#- Events are read straight from the ref in each branch below (not through one shared CTE):
    Postgres materializes a CTE used twice, which would copy every event before the indexes help. -#}
with

settings as (

    select * from {{ ref('int_scoring_settings_pivoted') }}

),

{% if is_incremental() %}
    previous as (

        select
            max(built_as_of) as built_as_of,
            max(last_loaded_at) as last_loaded_at
        from {{ this }}

    ),

    -- events not counted yet: loaded since the previous build, or loaded before it but dated
    -- after its as_of (two branches, so each uses its index)
    new_events as (

        select * from {{ ref('int_activities_classified') }}
        where
            activity_key is not null
            and loaded_at > (select last_loaded_at from previous)
            and occurred_at <= (select as_of from settings)

        union all

        select * from {{ ref('int_activities_classified') }}
        where
            activity_key is not null
            and occurred_at > (select built_as_of from previous)
            and occurred_at <= (select as_of from settings)
            -- `loaded_at <= ...` for a never-null loaded_at, in a form the planner cannot answer
            -- from the loaded_at index: it ANDed a bitmap of every counted event with the few in
            -- the window
            and (loaded_at > (select last_loaded_at from previous)) is not true

    ),

    stored as (

        select built.*
        from {{ this }} as built
        where built.contact_id in (select new_events.contact_id from new_events)

    ),

    engagement as (

        select
            contact_id,
            max(stored_engaged_at) as stored_engaged_at,
            greatest(max(stored_engaged_at), max(new_engaged_at)) as last_engaged_at
        from (
            select
                contact_id,
                last_engaged_at as stored_engaged_at,
                null::timestamptz as new_engaged_at
            from stored
            union all
            select
                contact_id,
                null::timestamptz as stored_engaged_at,
                case when counts_as_engagement then occurred_at end as new_engaged_at
            from new_events
        ) as engaged
        group by contact_id

    ),

    -- recomputed from all their events: survivors of merges recorded since the previous build,
    -- both contacts of an activity read again since (its replaced row is in a stored sum), and
    -- contacts whose new last engagement lies before a stored event (their sum cannot be split)
    recomputed_contacts as (

        select survivor_contact_id as contact_id from {{ crm_ref('person_merges') }}
        where loaded_at > (select last_loaded_at from previous)

        union

        select unnest(array[revised.contact_id, revised.replaced_contact_id])
        from {{ ref('int_activities_classified') }} as revised
        where
            revised.replaced_contact_id is not null
            and revised.loaded_at > (select last_loaded_at from previous)

        union

        select stored.contact_id
        from stored
        inner join engagement on stored.contact_id = engagement.contact_id
        where
            engagement.last_engaged_at is distinct from engagement.stored_engaged_at
            and stored.last_occurred_at > engagement.last_engaged_at

    ),

    new_summed as (

        {{ activity_sums('new_events', 'engagement') }}

    ),

    folded as (

        select
            coalesce(stored.contact_id, new_summed.contact_id) as contact_id,
            coalesce(stored.activity_key, new_summed.activity_key) as activity_key,
            coalesce(new_summed.label, stored.label) as label,
            coalesce(new_summed.cap_points, stored.cap_points) as cap_points,
            coalesce(new_summed.decays, stored.decays) as decays,
            coalesce(new_summed.is_hand_raise, stored.is_hand_raise) as is_hand_raise,
            coalesce(new_summed.counts_as_engagement, stored.counts_as_engagement) as counts_as_engagement,
            coalesce(new_summed.disqualification_reason, stored.disqualification_reason) as disqualification_reason,
            coalesce(stored.event_count, 0) + coalesce(new_summed.event_count, 0) as event_count,
            least(stored.first_occurred_at, new_summed.first_occurred_at) as first_occurred_at,
            greatest(stored.last_occurred_at, new_summed.last_occurred_at) as last_occurred_at,
            engagement.last_engaged_at,
            engagement.stored_engaged_at,
            stored.last_occurred_at as stored_last_occurred_at,
            stored.points_at_last_occurrence as stored_points,
            stored.points_at_last_engagement as stored_points_at_last_engagement,
            new_summed.last_occurred_at as new_last_occurred_at,
            new_summed.points_at_last_occurrence as new_points,
            new_summed.points_at_last_engagement as new_points_at_last_engagement,
            case
                when stored.hand_raise_times is null then new_summed.hand_raise_times
                when new_summed.hand_raise_times is null then stored.hand_raise_times
                else {{ sorted_times('stored.hand_raise_times || new_summed.hand_raise_times') }}
            end as hand_raise_times,
            coalesce(new_summed.rules_hash, stored.rules_hash) as rules_hash,
            greatest(stored.last_loaded_at, new_summed.last_loaded_at) as last_loaded_at
        from stored
        full outer join new_summed
            on
                stored.contact_id = new_summed.contact_id
                and stored.activity_key = new_summed.activity_key
        inner join engagement on coalesce(stored.contact_id, new_summed.contact_id) = engagement.contact_id
        -- not exists, not `not in`: the planner ran `not in` as a list scan per folded row
        where not exists (
                select from recomputed_contacts
                where recomputed_contacts.contact_id = coalesce(stored.contact_id, new_summed.contact_id)
            )

    ),

    carried as (

        select
            folded.contact_id,
            folded.activity_key,
            folded.label,
            folded.cap_points,
            folded.decays,
            folded.is_hand_raise,
            folded.counts_as_engagement,
            folded.disqualification_reason,
            folded.event_count,
            folded.first_occurred_at,
            folded.last_occurred_at,
            folded.last_engaged_at,
            coalesce({{ decayed_points('folded.stored_points', 'folded.last_occurred_at - folded.stored_last_occurred_at') }}, 0)
            + coalesce({{ decayed_points('folded.new_points', 'folded.last_occurred_at - folded.new_last_occurred_at') }}, 0)
                as points_at_last_occurrence,
            -- when the last engagement did not move, both sums are already decayed to it; when it
            -- moved past every stored event (else the contact is recomputed), carry the stored sum
            coalesce(folded.new_points_at_last_engagement, 0) + case
                when folded.last_engaged_at is null or folded.last_engaged_at = folded.stored_engaged_at
                    then coalesce(folded.stored_points_at_last_engagement, 0)
                else coalesce({{ decayed_points('folded.stored_points', 'folded.last_engaged_at - folded.stored_last_occurred_at') }}, 0)
            end as points_at_last_engagement,
            folded.hand_raise_times,
            folded.rules_hash,
            folded.last_loaded_at
        from folded
        cross join settings

    ),

    -- every event when the table is empty (a first build), else those of the recomputed contacts,
    -- found through the contact index (as a semi join without nested loops: a scan of every event)
    recomputed_events as (

        select * from {{ ref('int_activities_classified') }}
        where activity_key is not null and (select built_as_of from previous) is null

        union all

        select * from {{ ref('int_activities_classified') }}
        where
            activity_key is not null
            and contact_id = any(array(select recomputed_contacts.contact_id from recomputed_contacts))

    ),

    recomputed_engagement as (

        {{ last_engagements('recomputed_events') }}

    ),

    recomputed as (

        {{ activity_sums('recomputed_events', 'recomputed_engagement') }}

    ),

    summed as (

        select * from carried
        union all
        select * from recomputed

    ),
{% else %}
    engagement as (

        {{ last_engagements(ref('int_activities_classified')) }}

    ),

    summed as (

        {{ activity_sums(ref('int_activities_classified'), 'engagement') }}

    ),
{% endif %}

final as (

    select
        summed.*,
        settings.as_of as built_as_of
    from summed
    cross join settings

)

select * from final
