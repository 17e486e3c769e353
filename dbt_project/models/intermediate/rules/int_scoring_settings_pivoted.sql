{#- One row: every scoring setting as a column, the run's as_of, and a fingerprint of all rule seeds.
    Any edit to any rules seed changes rules_hash, which makes the incremental scoring models start
    over (see dbt_project/README.md, "Changing scoring rules"). -#}
with

settings as (

    select * from {{ ref('scoring_settings') }}

),

{% for seed_name in scoring_rule_seeds() %}
    {{ seed_name }}_hash as (

        select
            '{{ seed_name }}' as seed_name,
            md5(coalesce(string_agg(cast(t as text), '|' order by cast(t as text)), '')) as seed_hash
        from {{ ref(seed_name) }} as t

    ),

{% endfor %}
seed_hashes as (

    {% for seed_name in scoring_rule_seeds() %}
        select * from {{ seed_name }}_hash
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

rules_hash as (

    select md5(string_agg(seed_name || ':' || seed_hash, ',' order by seed_name)) as rules_hash
    from seed_hashes

),

pivoted as (

    -- a column per row of the seed, named by it (macro scoring_setting_names)
    select
        {% for setting_name in scoring_setting_names() -%}
            max(case when setting_name = '{{ setting_name }}' then setting_value end) as {{ setting_name }},
        {% endfor -%}
        {{ as_of() }} as as_of
    from settings

),

final as (

    select
        pivoted.*,
        rules_hash.rules_hash
    from pivoted
    cross join rules_hash

)

select * from final
