"""The lead stages leadflow assigns, in funnel order then the two detours: read from the dbt seed
`lifecycle_stage_mapping`, the one place they are stated, for the push, the report and the CLI
(tests/test_vocabulary.py checks that every other place agrees)."""

from __future__ import annotations

import csv
from pathlib import Path

from leadflow.settings import paths


def _from_seed() -> tuple[tuple[str, ...], tuple[str, ...]]:
    seed = Path(paths().dbt_project_dir) / "seeds" / "lifecycle_stage_mapping.csv"
    with seed.open(newline="") as f:
        rows = list(csv.DictReader(f))
    funnel = sorted((r for r in rows if r["funnel_order"]), key=lambda r: int(r["funnel_order"]))
    detours = [r for r in rows if not r["funnel_order"]]
    return tuple(r["leadflow_stage"] for r in funnel), tuple(r["leadflow_stage"] for r in detours)


FUNNEL, DETOURS = _from_seed()
STAGES = (*FUNNEL, *DETOURS)
