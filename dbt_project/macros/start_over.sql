{#- Pre-hook of an incremental scoring model whose rows carry rules_hash and built_as_of (the
    as_of of the build that wrote them): empties the table when the rules changed or as_of moved
    backwards (a backfill), so this build recomputes every contact from scratch. -#}
{% macro start_over_on_new_rules_or_backfill() -%}
    delete from {{ this }}
    where (
        select bool_or(built.rules_hash <> settings.rules_hash or built.built_as_of > settings.as_of)
        from {{ this }} as built cross join {{ ref('int_scoring_settings') }} as settings
    )
{%- endmacro %}
