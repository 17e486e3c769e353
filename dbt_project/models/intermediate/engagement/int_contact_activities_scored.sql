{#- Per contact and activity_key: points decayed to as_of (the stored sum at the activity's last event,
    halved per half_life_days since then when the rule decays) and capped at ±cap_points; also the
    sum as it stood at the contact's last engagement (the score it had when it went quiet), used to
    decide whether a cold contact had been qualified. One pass over int_contact_activities_summed:
    no event is read here. Points stay float8: a numeric cast per row costs seconds per read at 1M
    contacts; readers cast their per-contact sums instead.

    The select is macro activities_scored() (macros/engagement/), which the hourly
    int_contact_engagement_scored and int_lead_reasons_summarized run over the sums of the contacts
    they recompute. -#}
{{ activities_scored() }}
