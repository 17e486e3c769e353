-- Every non-archived raw contact has exactly one outgoing row and archived contacts have none.
with

live as (

    select contact_id from {{ ref('stg_hubspot__contacts') }}
    where not is_archived

),

outgoing as (

    select contact_id from {{ ref('crm_outgoing_contacts') }}

)

select coalesce(live.contact_id, outgoing.contact_id) as contact_id
from live
full outer join outgoing on live.contact_id = outgoing.contact_id
where live.contact_id is null or outgoing.contact_id is null
