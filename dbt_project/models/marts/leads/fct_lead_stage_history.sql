{#- Stage transition log: one row each time a contact's stage differs from the latest row observed at an
    earlier as_of (plus the first observation of every contact). Keyed on (contact_id, observed_at = as_of):
    the pre-hook deletes this as_of's rows first, so re-running the same as_of is idempotent.
    full_refresh=false: the log survives `dbt build --full-refresh` and rules changes (a transition caused
    by a rules edit is flagged rules_changed). stage_entered_at = the triggering event time, clamped to
    (previous entry, as_of]. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        full_refresh=false,
        on_schema_change='append_new_columns',
        pre_hook=["{% if is_incremental() %}delete from {{ this }} where observed_at = {{ as_of() }}{% endif %}"],
        post_hook=[
            "drop index if exists {{ this.schema }}.{{ this.name }}_contact_idx",
            "create index if not exists {{ this.name }}_latest_idx on {{ this }}
                (contact_id, observed_at desc) include (to_stage, stage_entered_at, rules_hash)"
        ]
    )
}}

{#- The index serves each "latest row per contact" read of the log (`previous` here,
    fct_lead_qualification and a data test) in its order and from the index alone, instead of
    sorting the log. It replaces an index on (contact_id, observed_at),
    which those reads could not use in their order. -#}

with

stages as (

    select * from {{ ref('int_lead_stages_assigned') }}

),

settings as (

    select * from {{ ref('int_scoring_settings_pivoted') }}

),

previous as (

    {% if is_incremental() %}
        select distinct on (history.contact_id)
            history.contact_id,
            history.to_stage,
            history.stage_entered_at,
            history.rules_hash
        from {{ this }} as history
        where history.observed_at < {{ as_of() }}
        order by history.contact_id asc, history.observed_at desc
    {% else %}
        select
            cast(null as bigint) as contact_id,
            cast(null as text) as to_stage,
            cast(null as timestamp with time zone) as stage_entered_at,
            cast(null as text) as rules_hash
        where false
    {% endif %}

),

changes as (

    select
        stages.contact_id,
        stages.as_of as observed_at,
        previous.to_stage as from_stage,
        stages.leadflow_stage as to_stage,
        case
            when previous.contact_id is null then stages.stage_computed_at
            else greatest(stages.stage_computed_at, previous.stage_entered_at)
        end as stage_entered_at,
        stages.stage_reason as transition_reason,
        stages.disqualification_reason,
        stages.leadflow_score,
        stages.fit_score,
        stages.engagement_score,
        settings.rules_hash,
        coalesce(previous.rules_hash <> settings.rules_hash, false) as rules_changed
    from stages
    cross join settings
    left join previous on stages.contact_id = previous.contact_id
    where previous.contact_id is null or previous.to_stage <> stages.leadflow_stage

),

final as (

    select
        md5(cast(contact_id as text) || '|' || cast(observed_at as text)) as transition_id,
        contact_id,
        observed_at,
        from_stage,
        to_stage,
        stage_entered_at,
        transition_reason,
        disqualification_reason,
        leadflow_score,
        fit_score,
        engagement_score,
        rules_hash,
        rules_changed
    from changes

)

select * from final
