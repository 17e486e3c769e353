{#- Whether the scoring rules changed since this incremental model was built. All its rows carry
    the rules_hash of the build that wrote them, and they share one (a build under new rules
    starts over), so one row tells: comparing every row cost seconds per hour at 1M contacts. Null
    when the table is empty. -#}
{% macro rules_changed() -%}
    (select built.rules_hash from {{ this }} as built limit 1)
    <> (select settings.rules_hash from {{ ref('int_scoring_settings_pivoted') }} as settings)
{%- endmacro %}

{#- Pre-hook of an incremental scoring model whose rows carry rules_hash and built_as_of (the
    as_of of the build that wrote them): empties the table when the rules changed or as_of moved
    backwards (a backfill), so this build recomputes every contact from scratch. -#}
{% macro start_over_on_new_rules_or_backfill() -%}
    delete from {{ this }}
    where
        {{ rules_changed() }}
        or (select max(built.built_as_of) from {{ this }} as built)
        > (select settings.as_of from {{ ref('int_scoring_settings_pivoted') }} as settings)
{%- endmacro %}

{#- Whether a row of an input with `built_as_of` was written since this model's previous build:
    after it, or in a build at this as_of (a re-run); every row when this model is empty. Needs
    the CTEs `previous` (this model's max(built_as_of)) and `settings`. -#}
{% macro written_since_previous_build(built_as_of) -%}
    (select built_as_of from previous) is null
    or {{ built_as_of }} > (select built_as_of from previous)
    or {{ built_as_of }} = (select as_of from settings)
{%- endmacro %}
