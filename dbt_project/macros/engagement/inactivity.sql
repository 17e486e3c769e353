{#- A contact whose last engagement lies before this time (or who never engaged) is inactive at
    as_of. Needs `settings`. -#}
{% macro inactivity_cutoff() -%}
    settings.as_of - make_interval(days => cast(settings.inactivity_after_days as integer))
{%- endmacro %}

{#- When the inactivity penalty of a contact whose last engagement was `last_engaged_at` starts:
    the time at which inactivity_cutoff() passes it. Needs `settings`. -#}
{% macro inactivity_starts_at(last_engaged_at) -%}
    {{ last_engaged_at }} + make_interval(days => cast(settings.inactivity_after_days as integer))
{%- endmacro %}

{#- The inactivity penalty at as_of of a contact with events whose last engagement was
    `last_engaged_at` (null: never), for the engagement score and for the signal that explains it.
    Needs `settings`. -#}
{% macro inactivity_points(last_engaged_at) -%}
    case
        when {{ last_engaged_at }} is null or {{ last_engaged_at }} < {{ inactivity_cutoff() }}
            then settings.inactivity_points
        else 0
    end
{%- endmacro %}
