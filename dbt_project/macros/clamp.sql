{% macro clamp(expr, low=0, high=100) -%}
    least(greatest({{ expr }}, {{ low }}), {{ high }})
{%- endmacro %}

{#- points * 0.5 ^ (age / half_life_days) when the row's rule decays, else points; `age` is an
    interval expression and the row must carry `decays` and `half_life_days`. float8 on purpose:
    numeric power() is about ten times slower over millions of events. -#}
{% macro decayed_points(points, age) -%}
    case
        when decays
            then {{ points }} * power(0.5::float8, extract(epoch from ({{ age }}))::float8 / 86400.0 / half_life_days::float8)
        else {{ points }}
    end
{%- endmacro %}

{#- `expr` capped at ±cap_points (no cap when the row's cap_points is null). -#}
{% macro capped(expr) -%}
    case
        when cap_points is null then {{ expr }}
        when {{ expr }} >= 0 then least({{ expr }}, cap_points)
        else greatest({{ expr }}, -cap_points)
    end
{%- endmacro %}
