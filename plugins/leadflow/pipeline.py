"""The steps of one lead_sync run, callable from the DAG, the CLI and tests alike.

Each step is keyed on the run's data interval, reads its settings from the Airflow connections,
and returns only counts (XCom is not masked in logs: no tokens, no PII).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from leadflow import push, quality, runs
from leadflow.config import hubspot_settings, postgres_settings
from leadflow.db import connect, ensure_schema
from leadflow.extract import extract_stream
from leadflow.transform import dbt_build

RAW_SUITES = ("raw_hubspot_contacts", "raw_hubspot_events")
OUTGOING_SUITE = "crm_outgoing_contacts"


@dataclass(frozen=True)
class RunContext:
    run_id: str
    interval_start: datetime
    interval_end: datetime

    @property
    def load_id(self) -> str:
        """Deterministic per interval, so a re-run of the interval writes the same load id."""
        return f"lead_sync:{self.interval_end:%Y%m%dT%H%M%SZ}"


def begin(ctx: RunContext) -> None:
    pg = postgres_settings()
    ensure_schema(pg)
    runs.start_run(pg, ctx.run_id, ctx.interval_start, ctx.interval_end)


def extract(ctx: RunContext, stream: str) -> dict[str, Any]:
    return extract_stream(
        stream,
        postgres_settings(),
        hubspot_settings(),
        ctx.interval_start,
        ctx.interval_end,
        ctx.load_id,
    )


def validate_raw(ctx: RunContext) -> dict[str, Any]:
    pg = postgres_settings()
    return {s: quality.validate(pg, s, ctx.run_id).success for s in RAW_SUITES}


def transform(ctx: RunContext) -> dict[str, Any]:
    return dbt_build(postgres_settings(), as_of=ctx.interval_end)


def validate_outgoing(ctx: RunContext) -> dict[str, Any]:
    return {
        OUTGOING_SUITE: quality.validate(postgres_settings(), OUTGOING_SUITE, ctx.run_id).success
    }


def push_back(ctx: RunContext, dry_run: bool = False) -> dict[str, Any]:
    pg, hs = postgres_settings(), hubspot_settings()
    if dry_run:
        plans = push.plan(pg, hs)
        return {"dry_run": True, "would_update": sum(1 for p in plans if p.action == "update")}
    return push.push(pg, hs, ctx.run_id).as_dict()


def stage_counts(pg_settings: Any = None) -> dict[str, int]:
    with connect(pg_settings or postgres_settings()) as conn:
        rows = conn.execute(
            "select leadflow_stage, count(*) from marts.crm_outgoing_contacts group by 1"
        ).fetchall()
    return {stage: int(n) for stage, n in rows}


def finish(ctx: RunContext, step_stats: dict[str, Any]) -> dict[str, Any]:
    pg = postgres_settings()
    stats = {**step_stats, "stages": stage_counts(pg)}
    runs.finish_run(pg, ctx.run_id, "success", stats)
    return stats


def fail(ctx: RunContext, failed_tasks: list[str]) -> None:
    runs.finish_run(
        postgres_settings(),
        ctx.run_id,
        "failed",
        {"failed_tasks": failed_tasks},
        error=f"failed tasks: {', '.join(failed_tasks)}",
    )
