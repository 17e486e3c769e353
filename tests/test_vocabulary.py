"""One vocabulary stated once: the stage names and funnel order live in the dbt seed
lifecycle_stage_mapping; every other place that lists them must agree with it."""

from __future__ import annotations

import csv
import json

from leadflow.settings import REPO_ROOT
from leadflow.sources.hubspot.writeback import CUSTOM_PROPERTIES
from leadflow.stages import FUNNEL, STAGES

SEED = REPO_ROOT / "dbt_project" / "seeds" / "lifecycle_stage_mapping.csv"


def test_the_stage_list_everywhere_is_the_mapping_seeds() -> None:
    with SEED.open(newline="") as f:
        rows = list(csv.DictReader(f))
    funnel = [r["leadflow_stage"] for r in sorted(rows, key=lambda r: int(r["funnel_order"] or 99))]
    assert list(STAGES) == funnel  # funnel order, then the detours in the seed's order

    suite = json.loads((REPO_ROOT / "expectations" / "crm_outgoing_contacts.json").read_text())
    value_sets = {
        e["kwargs"]["column"]: e["kwargs"]["value_set"]
        for e in suite["expectations"]
        if e["type"] == "expect_column_values_to_be_in_set"
    }
    assert sorted(value_sets["leadflow_stage"]) == sorted(STAGES)

    (stage_property,) = [p for p in CUSTOM_PROPERTIES if p["name"] == "leadflow_stage"]
    assert [o["value"] for o in stage_property["options"]] == list(STAGES)
    # the lifecycle values the stages map to are among those the outgoing gate accepts
    mapped = {r["hubspot_lifecyclestage"] for r in rows if r["hubspot_lifecyclestage"]}
    assert mapped <= set(value_sets["lifecyclestage"])

    # the report's funnel reads a reached_<stage> column of dim_leads for each stage past the first
    dim_leads = (
        REPO_ROOT / "dbt_project" / "models" / "marts" / "leads" / "dim_leads.sql"
    ).read_text()
    assert [st for st in FUNNEL[1:] if f" as reached_{st}," not in dim_leads] == []
