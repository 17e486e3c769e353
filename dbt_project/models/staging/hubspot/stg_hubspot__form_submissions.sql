{#- One row per form submission: which form, when, and the normalized email typed into it (the
    only link to a contact). -#}
with

source as (

    select * from {{ source('hubspot', 'hubspot_form_submissions') }}

),

renamed as (

    select
        id as submission_id,
        kind as form_id,
        record ->> 'formName' as form_name,
        email,
        occurred_at as submitted_at,
        record ->> 'pageUrl' as page_url,
        _loaded_at as loaded_at

    from source

)

select * from renamed
