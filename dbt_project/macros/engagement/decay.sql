{#- points * 0.5 ^ (age / half_life_days) when the row's rule decays, else points; `age` is an
    interval expression and the row must carry `decays` and `half_life_days`. float8 on purpose:
    numeric power() is much slower over millions of events, and date_part() returns float8 where
    extract() computes a numeric. -#}
{% macro decayed_points(points, age) -%}
    case
        when decays
            then {{ points }} * power(0.5::float8, date_part('epoch', {{ age }}) / 86400.0 / half_life_days::float8)
        else {{ points }}
    end
{%- endmacro %}

{#- `expr` capped at ±cap_points (no cap when the row's cap_points is null; cap_points >= 0, a seed
    test). `expr` appears once: a decayed sum is a power() call, and the planner inlines every
    occurrence of it (three in a case form, evaluated twice per row). -#}
{% macro capped(expr) -%}
    least(
        greatest({{ expr }}, -coalesce(cast(cap_points as float8), 'Infinity')),
        coalesce(cast(cap_points as float8), 'Infinity')
    )
{%- endmacro %}

{#- A float8 `expr` rounded to an integer, halves away from zero as numeric round() does (float8
    round() goes to even); no numeric cast per row. -#}
{% macro round_half_away(expr) -%}
    cast(sign({{ expr }}) * floor(abs({{ expr }}) + 0.5) as integer)
{%- endmacro %}

{#- Seconds until decaying points shrink by the factor exp(`ln_ratio`): they halve every
    half_life_days. Needs `settings`. -#}
{% macro seconds_to_decay(ln_ratio) -%}
    86400 * cast(settings.half_life_days as float8) * {{ ln_ratio }} / ln(2)
{%- endmacro %}
