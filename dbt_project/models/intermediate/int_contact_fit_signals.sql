{#- One row per contact and fit rule_group: the matching fit rule with the lowest priority. -#}
with

contacts as (

    select * from {{ ref('int_contacts_enriched') }}

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

    select distinct on (contact_id, rule_group)
        contact_id,
        rule_group,
        rule_id,
        attribute,
        points,
        priority,
        disqualification_reason,
        label
    from matched
    order by contact_id asc, rule_group asc, priority asc, rule_id asc

)

select * from final
