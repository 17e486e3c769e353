{#- Explainability: every fit rule, engagement activity (decayed, capped points) and inactivity penalty
    that contributed points, with a short display text such as "+30 demo request (2026-11-20)".
    Unranked: its readers order a contact's signals by signal_rank_order() themselves
    (fct_lead_signals numbers them, int_lead_reasons_summarized keeps the strongest). Every contact with
    signals, archived ones too (their events are still classified): readers keep the live contacts,
    since joining them here would cost a hash join of every signal.

    One select over inline subqueries, not CTEs: Postgres merges a view into its reader's plan
    only when the view has no WITH clause. Merged, a full build of int_lead_reasons_summarized reads the fit
    signals in their index's contact order and sorts only the activities; as a separate subquery
    it sorted all signals with their texts.

    The select is macro lead_signals() (macros/signals/), which the hourly
    int_lead_reasons_summarized runs for the contacts it recomputes. -#}
{{ lead_signals() }}
