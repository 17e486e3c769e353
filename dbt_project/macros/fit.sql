{#- md5 of the contact attributes fit rules read, from a relation or CTE with
    int_contacts_enriched's columns. int_contacts_enriched stores it as fit_input_hash; the fit
    models match and score a contact again when it changes. -#}
{% macro fit_input_hash(contacts) -%}
    md5(row(
        {{ contacts }}.industry, {{ contacts }}.number_of_employees, {{ contacts }}.country,
        {{ contacts }}.job_title, {{ contacts }}.email_domain, {{ contacts }}.email,
        {{ contacts }}.last_name, {{ contacts }}.phone, {{ contacts }}.company_name,
        {{ contacts }}.website
    )::text)
{%- endmacro %}
