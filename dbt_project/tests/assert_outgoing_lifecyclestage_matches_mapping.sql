-- The lifecyclestage written back is exactly the seed mapping of the leadflow stage.
select
    outgoing.contact_id,
    outgoing.leadflow_stage,
    outgoing.lifecyclestage
from {{ ref('crm_outgoing_contacts') }} as outgoing
inner join {{ ref('lifecycle_stage_mapping') }} as mapping on outgoing.leadflow_stage = mapping.leadflow_stage
where outgoing.lifecyclestage is distinct from mapping.hubspot_lifecyclestage
