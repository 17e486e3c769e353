{#- One row per engagement (call, meeting, email, note, task) and contact it is associated
    with, in one shape (macro hs_engagements). -#}
with

associations as (

    select * from {{ ref('stg_hubspot__associations') }}

),

engagements as (

    {{ hs_engagements('calls') }}
    union all
    {{ hs_engagements('meetings') }}
    union all
    {{ hs_engagements('emails') }}
    union all
    {{ hs_engagements('notes') }}
    union all
    {{ hs_engagements('tasks') }}

),

linked as (

    select
        engagements.*,
        associations.to_object_id as contact_id
    from engagements
    inner join associations
        on
            engagements.engagement_type = associations.from_object_type
            and engagements.engagement_id = associations.from_object_id
            and associations.to_object_type = 'contacts'

)

select * from linked
