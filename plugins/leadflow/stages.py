"""The lead stages leadflow assigns (dbt's int_lead_stages_assigned), in funnel order then the
two detours. One list for the push, the report and the CLI."""

STAGES = (
    "suspect",
    "lead",
    "mql",
    "sal",
    "sql",
    "opportunity",
    "customer",
    "nurture",
    "disqualified",
)
