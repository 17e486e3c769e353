-- A disqualified contact always carries a reason code, and only disqualified contacts do.
select
    contact_id,
    leadflow_stage,
    disqualification_reason
from {{ ref('crm_outgoing_contacts') }}
where (leadflow_stage = 'disqualified') <> (disqualification_reason is not null)
