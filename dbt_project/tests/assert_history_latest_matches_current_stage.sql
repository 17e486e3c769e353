-- After a run, the latest history row of every contact is its current stage.
with

latest as (

    select distinct on (contact_id)
        contact_id,
        to_stage
    from {{ ref('fct_lead_stage_history') }}
    where observed_at <= {{ as_of() }}
    order by contact_id asc, observed_at desc

)

select
    outgoing.contact_id,
    outgoing.leadflow_stage,
    latest.to_stage
from {{ ref('crm_outgoing_contacts') }} as outgoing
left join latest on outgoing.contact_id = latest.contact_id
where latest.to_stage is distinct from outgoing.leadflow_stage
