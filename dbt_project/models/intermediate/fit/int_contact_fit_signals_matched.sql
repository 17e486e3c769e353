{#- One row per contact and fit rule_group: the matching fit rule with the lowest priority.
    Incremental per contact: every row carries the contact's fit_input_hash (from
    int_contacts_enriched), and only contacts without rows are matched again, since regex matching
    a million contacts against the rules every hour is the costly part. The pre-hook makes that set
    right: it drops the rows of contacts whose hash changed or that left int_contacts_enriched (a
    contact that now matches no rule keeps none), and empties the table when the rules change. Its
    128MB of work_mem holds every contact's hash of that anti join in one batch, where the default
    4MB splits it into many (int_contact_fit_scored, with one stored row per contact, gains nothing
    from it). -#}
{{
    config(
        materialized='incremental',
        unique_key='contact_id',
        pre_hook=["{% if is_incremental() %}
            set local work_mem = '128MB';
            {{ drop_stale_fit_rows() }}
        {% endif %}"],
        post_hook=[
            "create index if not exists {{ this.name }}_contact_idx on {{ this }} (contact_id)",
            "{{ vacuum_hourly() }}"
        ]
    )
}}

with

settings as (

    select * from {{ ref('int_scoring_settings_pivoted') }}

),

contacts as (

    {{ contacts_without_fit_rows() }}

),

fit_rules as (

    select * from {{ ref('fit_rules') }}

),

attribute_values as (

    select
        contacts.contact_id,
        attrs.attribute,
        attrs.text_value,
        attrs.number_value
    from contacts
    cross join
        lateral (
            values
            ('industry', contacts.industry, null::numeric),
            ('employees', null, contacts.number_of_employees),
            ('country', contacts.country, null::numeric),
            ('job_title', contacts.job_title, null::numeric),
            ('email_domain', contacts.email_domain, null::numeric),
            ('field_present', case when contacts.email is not null then 'email' end, null::numeric),
            ('field_present', case when contacts.last_name is not null then 'last_name' end, null::numeric),
            ('field_present', case when contacts.job_title is not null then 'job_title' end, null::numeric),
            ('field_present', case when contacts.phone is not null then 'phone' end, null::numeric),
            ('field_present', case when contacts.company_name is not null then 'company' end, null::numeric),
            ('field_present', case when contacts.website is not null then 'website' end, null::numeric)
        ) as attrs (attribute, text_value, number_value)
    where attrs.text_value is not null or attrs.number_value is not null

),

matched as (

    select
        attribute_values.contact_id,
        fit_rules.rule_id,
        fit_rules.rule_group,
        fit_rules.attribute,
        fit_rules.points,
        fit_rules.priority,
        fit_rules.disqualification_reason,
        fit_rules.label
    from attribute_values
    inner join fit_rules
        on
            attribute_values.attribute = fit_rules.attribute
            and case fit_rules.match_type
                when 'equals' then lower(attribute_values.text_value) = lower(fit_rules.match_value)
                when 'suffix' then right(lower(attribute_values.text_value), length(fit_rules.match_value)) = lower(fit_rules.match_value)
                when 'regex' then attribute_values.text_value ~* fit_rules.match_value
                when 'range'
                    then
                        attribute_values.number_value >= coalesce(fit_rules.min_value, '-Infinity'::numeric)
                        and attribute_values.number_value <= coalesce(fit_rules.max_value, 'Infinity'::numeric)
                else false
            end

),

final as (

    select distinct on (matched.contact_id, matched.rule_group)
        matched.contact_id,
        matched.rule_group,
        matched.rule_id,
        matched.attribute,
        matched.points,
        matched.priority,
        matched.disqualification_reason,
        matched.label,
        contacts.fit_input_hash,
        settings.rules_hash
    from matched
    inner join contacts on matched.contact_id = contacts.contact_id
    cross join settings
    order by matched.contact_id asc, matched.rule_group asc, matched.priority asc, matched.rule_id asc

)

select * from final
