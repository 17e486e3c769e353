"""The steps of one lead_sync run, callable from the DAG, the CLI and tests alike.

Each step is keyed on the run's data interval, reads its settings from the Airflow connections,
and returns only counts (XCom is not masked in logs: no tokens, no PII).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from leadflow import alerts, plan, quality, runs, send, sources
from leadflow.db import connect, ensure_schema
from leadflow.errors import LeadflowError
from leadflow.settings import AlertSettings, postgres_settings, read
from leadflow.stats import BuildStats, DryRunStats, ExtractStats, PushStats, RunStats
from leadflow.transform import dbt_build, properties_read

log = logging.getLogger(__name__)

_P = ParamSpec("_P")
_R = TypeVar("_R")
# The blocking suites over what the push writes (quality.OUTGOING_RELATIONS).
OUTGOING_SUITES = ("crm_outgoing_contacts", "crm_handoff_notes")


def fail_fast(step: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run `step`; an error a retry cannot fix (a wrong setting, a rejected token, an outgoing
    list that is not the validated one: `retryable` false) fails its task at once, without
    Airflow's retries, which would only repeat it minutes later."""

    @functools.wraps(step)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return step(*args, **kwargs)
        except LeadflowError as exc:
            if exc.retryable:  # e.g. Postgres down: Airflow retries
                raise
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException(f"{exc} (not retried: a retry cannot fix this)") from exc

    return run


@dataclass(frozen=True)
class RunContext:
    run_id: str
    interval_start: datetime
    interval_end: datetime

    @property
    def load_id(self) -> str:
        """Deterministic per interval, so a re-run of the interval writes the same load id."""
        return f"lead_sync:{self.interval_end:%Y%m%dT%H%M%SZ}"


@fail_fast
def begin(ctx: RunContext) -> None:
    pg = postgres_settings()
    ensure_schema(pg)
    runs.start_run(pg, ctx.run_id, ctx.interval_start, ctx.interval_end)


@fail_fast
def extract(ctx: RunContext, stream: str) -> dict[str, Any]:
    """One stream into raw; ops hear when properties the models read left the source."""
    pg = postgres_settings()
    source = sources.source_of(stream)
    stats = source.extract(stream, pg, ctx.interval_start, ctx.interval_end, ctx.load_id)
    if any(stats.schema_changes.values()):
        read_by_models = properties_read(source.name).get(stream, [])
        alert = alerts.schema_drift(
            ctx.run_id, stream, stats.schema_changes, read_by_models, ctx.load_id
        )
        if alert is not None:
            alerts.send(alert, pg)
    return stats.as_dict()


@fail_fast
def validate_raw(ctx: RunContext) -> dict[str, Any]:
    pg = postgres_settings()
    try:
        suites = [suite for source in sources.configured() for suite in source.raw_suites]
        return {s: quality.validate(pg, s, ctx.run_id, ctx.load_id).success for s in suites}
    except quality.QualityGateFailed as exc:
        alerts.send(alerts.gate_failed(ctx.run_id, exc), pg)
        raise


@fail_fast
def transform(ctx: RunContext) -> dict[str, Any]:
    return dbt_build(postgres_settings(), as_of=ctx.interval_end).as_dict()


@fail_fast
def validate_outgoing(ctx: RunContext, force_push: bool = False) -> dict[str, Any]:
    """The blocking gate before the push: the GX suite, then the volume circuit breaker.

    `force_push` overrides only the breaker (a person checked the volume), never the suite.
    """
    pg = postgres_settings()
    try:
        with quality.outgoing_locked(pg) as conn:
            suites = {s: quality.validate(pg, s, ctx.run_id).success for s in OUTGOING_SUITES}
            verdict = quality.check_volume(pg, ctx.run_id, force=force_push)
            quality.seal_outgoing(conn, ctx.run_id)
    except quality.QualityGateFailed as exc:
        alerts.send(alerts.gate_failed(ctx.run_id, exc), pg)
        raise
    return {
        **suites,
        quality.BREAKER_SUITE: {
            "changed": verdict.changed,
            "new_sql": verdict.new_sql,
            "qualifying_moves": verdict.qualifying_moves,
            "first_push": verdict.first_push,
            "forced": verdict.forced,
        },
    }


@fail_fast
def push_back(ctx: RunContext, dry_run: bool = False) -> dict[str, Any]:
    pg, crm = postgres_settings(), sources.crm()
    if dry_run:
        plans = plan.plan(pg, crm)
        planned = plan.writes(pg, crm)
        log.info(
            "dry run, nothing sent:\n%s\n%s",
            plan.format_plan(plans, limit=500),
            plan.format_writes(planned, limit=500),
        )
        actions = [p.action for p in plans]
        counts = {a: actions.count(a) for a in ("create", "update", "skip")}
        return DryRunStats(**counts).as_dict()
    stats = send.push(pg, crm, ctx.run_id)
    if stats.failed:
        alerts.send(alerts.push_rejected(ctx.run_id, stats), pg)
    if stats.restored:
        alerts.send(alerts.crm_drift(ctx.run_id, stats), pg)
    return stats.as_dict()


# What a run counts after the build, each a (key, count) query: leads per stage; activities
# that name an email no contact has yet, per source type (kept, attributed by the first build
# after such a contact is loaded); stage-history values no mapping seed knows, as
# `property=value` (left out of the stage log).
STAGES_SQL = "select leadflow_stage, count(*) from marts.crm_outgoing_contacts group by 1"
UNATTRIBUTED_SQL = (
    "select source_type, count(*) from intermediate.int_activities"
    " where contact_id is null group by 1 order by 1"
)
UNMAPPED_SQL = (
    "select property_name || '=' || property_value, value_count"
    " from intermediate.int_source_values_unmapped order by value_count desc limit 20"
)


def counts(sql: str, pg_settings: Any = None) -> dict[str, int]:
    with connect(pg_settings or postgres_settings()) as conn:
        return {str(key): int(n) for key, n in conn.execute(sql).fetchall()}


@fail_fast
def finish(
    ctx: RunContext,
    extracted: list[dict[str, Any]],
    built: dict[str, Any],
    pushed: dict[str, Any],
) -> dict[str, Any]:
    """Close the run's record with what every step did (the steps' XCom values)."""
    pg = postgres_settings()
    stats = RunStats(
        extract=[ExtractStats.from_dict(e) for e in extracted],
        dbt=BuildStats.from_dict(built),
        push=DryRunStats.from_dict(pushed)
        if pushed.get("dry_run")
        else PushStats.from_dict(pushed),
        stages=counts(STAGES_SQL, pg),
        unattributed=counts(UNATTRIBUTED_SQL, pg),
        unmapped=counts(UNMAPPED_SQL, pg),
    )
    stats.alerts = operational_alerts(ctx, pg)
    runs.finish_run(pg, ctx.run_id, "success", stats)
    return stats.as_dict()


def operational_alerts(ctx: RunContext, pg: Any) -> list[str]:
    """Quarantine growth and SLA breaches of this run; best-effort, never fails the run."""
    raised: list[str] = []
    try:
        with connect(pg) as conn:
            row = conn.execute(
                "select started_at from leadflow.runs where run_id = %s", (ctx.run_id,)
            ).fetchone()
        threshold = read(AlertSettings).quarantine_min
        candidates = [
            alerts.quarantine_growth(pg, ctx.run_id, row[0], threshold) if row else None,
            alerts.sla_breaches(pg, ctx.run_id, ctx.interval_start, ctx.interval_end),
        ]
    except Exception:
        log.exception("could not evaluate quarantine/SLA alerts")
        return raised
    for alert in candidates:
        if alert is not None:
            alerts.send(alert, pg)
            raised.append(alert.kind)
    return raised


def failed_steps(states: dict[str, Any], streams: list[str]) -> list[str]:
    """The failed tasks of a run from Airflow's task states ({"extract_2": "failed", ...}), a
    mapped extract named by its stream: extract[deals]. upstream_failed tasks never ran."""
    names = []
    for key, state in states.items():
        if state != "failed":
            continue
        task_id, _, index = key.rpartition("_")
        if task_id == "extract" and index.isdigit() and int(index) < len(streams):
            key = f"extract[{streams[int(index)]}]"
        names.append(key)
    return sorted(names)


def fail(ctx: RunContext, failed_tasks: list[str]) -> None:
    pg = postgres_settings()
    runs.finish_run(
        pg,
        ctx.run_id,
        "failed",
        RunStats(failed_tasks=failed_tasks),
        error=f"failed tasks: {', '.join(failed_tasks)}",
    )
    if not alerts.already_raised(pg, ctx.run_id):
        alerts.send(
            alerts.Alert(
                kind="run_failed",
                run_id=ctx.run_id,
                title=f"lead_sync failed at: {', '.join(failed_tasks) or 'unknown step'}",
                where=["leadflow.runs", "the failed tasks' logs in Airflow"],
            ),
            pg,
        )
