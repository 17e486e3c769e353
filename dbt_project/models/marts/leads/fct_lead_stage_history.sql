{#- Stage transition log: one row each time a contact's stage differs from the latest row observed at an
    earlier as_of (plus the first observation of every contact). Keyed on (contact_id, observed_at = as_of):
    the pre-hook deletes this as_of's rows first, so re-running the same as_of is idempotent.
    full_refresh=false: the log survives `dbt build --full-refresh` and rules changes (a transition caused
    by a rules edit is flagged rules_changed). stage_entered_at = the triggering event time, clamped to
    (previous entry, as_of].
    History from day one: a contact the log has not seen yet first gets the stages the CRM's own
    lifecycle history says it went through (stg_hubspot__contact_history, mapped through the
    stage seed; transition_source 'crm', observed when the CRM recorded them); leadflow's own
    row follows only when its stage differs from the CRM's last. A re-run finds the contact in
    the log and adds no CRM rows again. -#}
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
                (contact_id, observed_at desc) include (from_stage, to_stage, stage_entered_at, rules_hash)"
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

seen as (

    {% if is_incremental() %}
        select distinct contact_id from {{ this }}
    {% else %}
        select cast(null as bigint) as contact_id
        where false
    {% endif %}

),

crm_stages as (

    select
        history.contact_id,
        history.changed_at,
        history.leadflow_stage,
        history.property_value,
        lag(history.leadflow_stage) over (
            partition by history.contact_id order by history.changed_at
        ) as before_stage
    from {{ ref('stg_hubspot__contact_history') }} as history
    inner join stages on history.contact_id = stages.contact_id
    where
        history.leadflow_stage is not null
        and history.changed_at <= {{ as_of() }}
        and history.contact_id not in (select seen.contact_id from seen)

),

crm_changes as (

    select
        crm_stages.contact_id,
        crm_stages.changed_at as observed_at,
        crm_stages.before_stage as from_stage,
        crm_stages.leadflow_stage as to_stage,
        crm_stages.changed_at as stage_entered_at,
        'CRM lifecycle stage ' || crm_stages.property_value as transition_reason,
        cast(null as text) as disqualification_reason,
        cast(null as integer) as leadflow_score,
        cast(null as integer) as fit_score,
        cast(null as integer) as engagement_score,
        settings.rules_hash,
        false as rules_changed,
        'crm' as transition_source
    from crm_stages
    cross join settings
    where crm_stages.before_stage is distinct from crm_stages.leadflow_stage

),

crm_latest as (

    select distinct on (crm_changes.contact_id)
        crm_changes.contact_id,
        crm_changes.to_stage,
        crm_changes.stage_entered_at,
        crm_changes.rules_hash
    from crm_changes
    order by crm_changes.contact_id asc, crm_changes.observed_at desc

),

latest as (

    select * from previous
    union all
    select * from crm_latest

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
        {{ with_stage_before('stages.stage_reason', 'previous.to_stage') }} as transition_reason,
        stages.disqualification_reason,
        stages.leadflow_score,
        stages.fit_score,
        stages.engagement_score,
        settings.rules_hash,
        coalesce(previous.rules_hash <> settings.rules_hash, false) as rules_changed,
        'leadflow' as transition_source
    from stages
    cross join settings
    left join latest as previous on stages.contact_id = previous.contact_id
    where previous.contact_id is null or previous.to_stage <> stages.leadflow_stage

),

logged as (

    select * from crm_changes
    union all
    select * from changes

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
        rules_changed,
        transition_source
    from logged

)

select * from final
