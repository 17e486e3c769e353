-- int_contact_activities_summed holds one row per contact and activity. A build replaces whole
-- contacts, so only the rows it wrote (built_as_of = as_of) can break that. A unique index would
-- check it too, but maintaining one cost about 5 s per hourly build at 1M contacts.
select
    contact_id,
    activity_key
from {{ ref('int_contact_activities_summed') }}
where built_as_of = {{ as_of() }}
group by contact_id, activity_key
having count(*) > 1
