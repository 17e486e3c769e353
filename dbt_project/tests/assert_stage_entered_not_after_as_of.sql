-- Stage entry times are never in the future relative to the run's as_of.
select
    contact_id,
    leadflow_stage_entered_at
from {{ ref('crm_outgoing_contacts') }}
where leadflow_stage_entered_at > {{ as_of() }}
