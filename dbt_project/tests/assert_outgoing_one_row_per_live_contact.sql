-- Every live person of the CRM has exactly one outgoing row, and nobody else has one (the CRM's
-- people model holds the live ones: not archived, deleted or merged away).
with

live as (

    select contact_id from {{ crm_ref('people') }}

),

outgoing as (

    select contact_id from {{ ref('crm_outgoing_contacts') }}

)

select coalesce(live.contact_id, outgoing.contact_id) as contact_id
from live
full outer join outgoing on live.contact_id = outgoing.contact_id
where live.contact_id is null or outgoing.contact_id is null
