{#- The rows of one engagement type (a source table's suffix: calls, meetings, emails, notes,
    tasks) in one shape: when it happened (hs_timestamp), its direction, status and owner. A
    call or an email is outgoing or incoming by its own direction property; a meeting counts
    as outgoing (the owner met the contact); notes and tasks are internal. -#}
{% macro hs_engagements(engagement_type) -%}
    {%- set directions = {
        'calls': "case " ~ hs_prop('hs_call_direction') ~ " when 'OUTBOUND' then 'outgoing' when 'INBOUND' then 'incoming' end",
        'meetings': "'outgoing'",
        'emails': "case " ~ hs_prop('hs_email_direction') ~ " when 'EMAIL' then 'outgoing' when 'INCOMING_EMAIL' then 'incoming' end",
    } -%}
    {%- set statuses = {
        'calls': hs_prop('hs_call_status'),
        'meetings': hs_prop('hs_meeting_outcome'),
        'tasks': hs_prop('hs_task_status'),
    } -%}
    select
        id as engagement_id,
        '{{ engagement_type }}' as engagement_type,
        {{ hs_to_timestamp(hs_prop('hs_timestamp')) }} as occurred_at,
        {{ directions.get(engagement_type, "'internal'") }} as direction,
        lower({{ statuses.get(engagement_type, 'null') }}) as status,
        {{ hs_to_bigint(hs_prop('hubspot_owner_id')) }} as owner_id,
        (archived or coalesce(lower({{ hs_attr('archived') }}) = 'true', false)) as is_archived,
        _loaded_at as loaded_at
    from ({{ hs_listed_records(engagement_type) }}) as source
{%- endmacro %}
