-- leadflow_reasons is a short, non-empty text (the CRM property limit we target is 500 chars).
select contact_id, length(leadflow_reasons) as reasons_length
from {{ ref('crm_outgoing_contacts') }}
where length(leadflow_reasons) not between 1 and 500
