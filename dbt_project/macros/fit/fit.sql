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

{#- Pre-hook statements of the incremental fit models: empty the table when the rules changed, and
    drop the rows of contacts whose fit_input_hash changed or that left int_contacts_enriched (two
    statements: under an `or` the `not exists` ran as a subplan per stored row). -#}
{% macro drop_stale_fit_rows() -%}
    delete from {{ this }} where {{ rules_changed() }};
    delete from {{ this }} as stale
    where not exists (
        select from {{ ref('int_contacts_enriched') }} as current
        where current.contact_id = stale.contact_id and current.fit_input_hash = stale.fit_input_hash
    )
{%- endmacro %}

{#- The contacts an incremental fit model works on: all in a full build, else those without a row
    (new, or dropped by drop_stale_fit_rows()). -#}
{% macro contacts_without_fit_rows() -%}
    select enriched.*
    from {{ ref('int_contacts_enriched') }} as enriched
    {% if is_incremental() %}
        where not exists (
                select from {{ this }} as stored
                where stored.contact_id = enriched.contact_id
            )
    {% endif %}
{%- endmacro %}
