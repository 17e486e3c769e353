"""Great Expectations gates: suites live as JSON in `expectations/`, results in Postgres.

GX runs its checks as SQL in Postgres (no data pulled into pandas). A failed blocking suite
raises QualityGateFailed, which fails the task and so blocks everything downstream (the push);
a validation that only logs would protect nothing.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from leadflow.db import connect
from leadflow.errors import LeadflowError
from leadflow.settings import BreakerSettings, PostgresSettings, paths, read

log = logging.getLogger(__name__)

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
# GX suggests its PostgresDatasource, which rejects unix-socket hosts; the generic one is meant.
warnings.filterwarnings("ignore", message="You are using a generic SQLDatasource")


def expectations_dir() -> Path:
    return Path(paths().expectations_dir)


class QualityGateFailed(RuntimeError):
    """A blocking suite failed: the data stays in Postgres for inspection, nothing is pushed.

    Carries what an alert needs: the suite, how many rows were bad, and where to look.
    """

    def __init__(
        self,
        message: str,
        suite: str = "",
        bad_rows: int | None = None,
        where: str = "",
        title: str = "",
    ) -> None:
        super().__init__(message)
        self.suite = suite
        self.bad_rows = bad_rows
        self.where = where
        self.title = title  # the alert's headline, when the suite's default does not fit


@dataclass
class SuiteResult:
    suite: str
    success: bool
    evaluated: int
    failed: int
    failures: list[dict[str, Any]]

    def summary(self) -> str:
        lines = [f"suite {self.suite}: {self.failed} of {self.evaluated} expectations failed"]
        for f in self.failures:
            what = f.get("description") or f"{f['expectation']} on {f.get('column') or 'table'}"
            examples = f", e.g. {f['examples']}" if f.get("examples") else ""
            lines.append(f"  - {what}: {f.get('unexpected_count', '?')} bad rows{examples}")
        return "\n".join(lines)

    def bad_rows(self) -> int:
        """Rows failing any expectation (an upper bound: a row can fail several)."""
        return sum(int(f.get("unexpected_count") or 0) for f in self.failures)


def load_suite(name: str) -> dict[str, Any]:
    path = expectations_dir() / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"No expectation suite {path}")
    return json.loads(path.read_text())


def validate(
    pg: PostgresSettings, suite_name: str, run_id: str, load_id: str | None = None
) -> SuiteResult:
    """Run one suite against its table or query, store the outcome, raise if it blocks.

    A suite with `"scope": "load"` checks only the rows `load_id` wrote, so an hourly gate costs
    what the hour loaded, not the whole raw history (which constraints already guard).
    """
    spec = load_suite(suite_name)
    if spec.get("scope") == "load":
        if load_id is None:
            raise ValueError(f"suite {suite_name} checks one load: pass its load_id")
        spec = {**spec, "query": _load_query(pg, spec, load_id)}
    result = _run_gx(pg, spec)
    _record(pg, run_id, result)
    log.info(result.summary())
    if not result.success and spec.get("blocking", True):
        where = (
            f"{spec.get('schema', '')}.{spec.get('table', 'query')} and "
            f"leadflow.quality_results where run_id = '{run_id}' and suite = '{suite_name}'"
        )
        raise QualityGateFailed(
            f"Quality gate '{suite_name}' failed; nothing downstream runs.\n{result.summary()}\n"
            f"Inspect the rows in Postgres: {where}.",
            suite=suite_name,
            bad_rows=result.bad_rows(),
            where=where,
        )
    return result


def _load_query(pg: PostgresSettings, spec: dict[str, Any], load_id: str) -> str:
    """The rows `load_id` wrote. Bounded below by the load's registered start, so GX's queries
    use the `_loaded_at` index instead of scanning all raw events for each of them.
    An unregistered load (written by other code) is found by its id alone."""
    with connect(pg) as conn:
        row = conn.execute(
            "select started_at from leadflow.loads where load_id = %s", (load_id,)
        ).fetchone()
        query = sql.SQL("select * from {} where _load_id = {}").format(
            sql.Identifier(spec["schema"], spec["table"]), sql.Literal(load_id)
        )
        if row is not None:
            query = sql.SQL("{} and _loaded_at >= {}").format(query, sql.Literal(row[0]))
        return query.as_string(conn)


def _run_gx(pg: PostgresSettings, spec: dict[str, Any]) -> SuiteResult:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    name = spec["name"]
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_sql(name="leadflow", connection_string=pg.sqlalchemy_url())
    if "query" in spec:
        asset = source.add_query_asset(name=name, query=spec["query"])
    else:
        asset = source.add_table_asset(
            name=name, table_name=spec["table"], schema_name=spec["schema"]
        )
    batch = asset.add_batch_definition_whole_table("all_rows")
    suite = gx.ExpectationSuite(name=name)
    for expectation in spec["expectations"]:
        suite.add_expectation_configuration(
            ExpectationConfiguration(type=expectation["type"], kwargs=expectation["kwargs"])
        )
    suite = context.suites.add(suite)
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=name, data=batch, suite=suite)
    )
    # Pass/fail needs only GX's aggregate metrics; the examples of bad rows cost one more scan
    # per expectation, so they (and the counts beside them) are gathered only after a failure.
    outcome = definition.run(result_format="BOOLEAN_ONLY")
    if not outcome.success:
        outcome = definition.run(result_format="SUMMARY")
    failures = [
        {
            "expectation": r.expectation_config.type,
            "column": r.expectation_config.kwargs.get("column"),
            "description": r.expectation_config.kwargs.get("description")
            or r.expectation_config.description,
            "unexpected_count": r.result.get("unexpected_count")
            # a query expectation reports its count of offending rows as the observed value
            if r.expectation_config.type != "unexpected_rows_expectation"
            else r.result.get("observed_value"),
            "observed_value": _jsonable(r.result.get("observed_value")),
            "examples": _jsonable((r.result.get("partial_unexpected_list") or [])[:5]),
        }
        for r in outcome.results
        if not r.success
    ]
    stats = outcome.statistics
    return SuiteResult(
        suite=name,
        success=bool(outcome.success),
        evaluated=int(stats["evaluated_expectations"]),
        failed=int(stats["unsuccessful_expectations"]),
        failures=failures,
    )


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _record(pg: PostgresSettings, run_id: str, result: SuiteResult) -> None:
    with connect(pg) as conn:
        conn.execute(
            """
            insert into leadflow.quality_results
                (run_id, suite, success, evaluated, failed, details)
            values (%s, %s, %s, %s, %s, %s)
            on conflict (run_id, suite) do update
                set success = excluded.success, evaluated = excluded.evaluated,
                    failed = excluded.failed, details = excluded.details, checked_at = now()
            """,
            (
                run_id,
                result.suite,
                result.success,
                result.evaluated,
                result.failed,
                json.dumps(result.failures),
            ),
        )


# -- what the push may send: the outgoing list as validated -----------------------------------

# What the push writes: the outgoing list and the hand-off notes (their rows hashed together).
OUTGOING_RELATIONS = ("marts.crm_outgoing_contacts", "marts.crm_handoff_notes")
OUTGOING_FINGERPRINT_SQL = """
    select count(*), coalesce(sum(('x' || left(md5(t.row), 16))::bit(64)::bigint), 0)
    from (
        select o::text as row from marts.crm_outgoing_contacts as o
        union all
        select n::text from marts.crm_handoff_notes as n
    ) as t
"""


class OutgoingChanged(QualityGateFailed, LeadflowError):
    """The outgoing list differs from what the gate validated: nothing may be pushed, and a
    retry of the push would find the same list (only a new run's gate can pass it)."""

    retryable = False


def outgoing_fingerprint(conn: psycopg.Connection) -> tuple[int, Decimal]:
    """(rows, checksum) of the outgoing list: the sum of a 64-bit hash of every row."""
    rows, checksum = conn.execute(OUTGOING_FINGERPRINT_SQL).fetchone()
    return int(rows), Decimal(checksum)


@contextmanager
def outgoing_locked(pg: PostgresSettings) -> Iterator[psycopg.Connection]:
    """A transaction holding the outgoing list still: no session can write it meanwhile.

    The gate checks the list inside it (GX reads on its own connections, which the share lock
    lets through) and seals it there, so what is sealed is exactly what was checked. A writer
    already at work makes the gate wait up to a minute, then fail.
    """
    with connect(pg) as conn:
        conn.execute("set local lock_timeout = '60s'")
        try:
            conn.execute(f"lock table {', '.join(OUTGOING_RELATIONS)} in share mode")
        except psycopg.errors.LockNotAvailable as exc:
            raise QualityGateFailed(
                "marts.crm_outgoing_contacts is being written by another session (a dbt build "
                "or a backfill?): the gate waited a minute; nothing is pushed. Re-run lead_sync.",
                suite="validated_outgoing",
                where="pg_locks for marts.crm_outgoing_contacts",
            ) from exc
        yield conn


def seal_outgoing(conn: psycopg.Connection, run_id: str) -> None:
    """Record the outgoing list as the run's gate validated it (inside outgoing_locked)."""
    conn.execute(
        """
        insert into leadflow.validated_outgoing (run_id, row_count, checksum)
        values (%s, %s, %s)
        on conflict (run_id) do update
            set row_count = excluded.row_count, checksum = excluded.checksum,
                validated_at = now()
        """,
        (run_id, *outgoing_fingerprint(conn)),
    )


def verify_validated(conn: psycopg.Connection, run_id: str) -> None:
    """Raise OutgoingChanged unless the list `conn` sees is the one the run's gate sealed.

    Call it inside the (repeatable-read) transaction that then reads the rows to push.
    """
    sealed = conn.execute(
        "select row_count, checksum from leadflow.validated_outgoing where run_id = %s",
        (run_id,),
    ).fetchone()
    if sealed is None:
        raise OutgoingChanged(
            f"run {run_id} has no validated outgoing list (the gate did not pass): nothing is "
            "pushed.",
            suite="validated_outgoing",
            where="leadflow.validated_outgoing",
        )
    now = outgoing_fingerprint(conn)
    if now != (int(sealed[0]), Decimal(sealed[1])):
        raise OutgoingChanged(
            "marts.crm_outgoing_contacts changed after the gate validated it "
            f"({sealed[0]} rows validated, {now[0]} now, checksums differ): nothing is pushed. "
            "Was a dbt build or a backfill running at the same time? Re-run lead_sync, so the "
            "gate checks the list as it is now.",
            suite="validated_outgoing",
            bad_rows=abs(now[0] - int(sealed[0])) or None,
            where="marts.crm_outgoing_contacts; leadflow.validated_outgoing where run_id = "
            f"'{run_id}'",
        )


# -- volume circuit breaker ------------------------------------------------------------------

BREAKER_SUITE = "volume_circuit_breaker"


class VolumeBreakerTripped(QualityGateFailed):
    """Far more changes (or new SQLs) than the recent norm, or a first push nobody confirmed:
    a bug upstream or a new deployment, not a busy hour."""


@dataclass
class BreakerVerdict:
    changed: int
    new_sql: int
    qualifying_moves: int
    contacts: int
    first_push: bool
    runs_compared: int
    median_changed: float | None = None
    median_new_sql: float | None = None
    limit_changed: float | None = None
    limit_new_sql: float | None = None
    limit_qualifying_moves: float | None = None
    tripped: bool = False
    forced: bool = False

    def summary(self) -> str:
        counts = (
            f"{self.changed} changed rows, {self.new_sql} new SQLs, {self.qualifying_moves} "
            f"contacts moving into MQL or SQL in the CRM"
        )
        if self.first_push and self.limit_qualifying_moves is None:
            return (
                f"first push to this CRM ({counts}, of {self.contacts}): it waits for a person "
                "to check `leadflow plan` and confirm it"
            )
        if self.limit_qualifying_moves is not None:
            return (
                f"{counts}: {self.qualifying_moves} moves into MQL or SQL (limit "
                f"{self.limit_qualifying_moves:.0f}: {self.contacts} contacts) with only "
                f"{self.runs_compared} earlier pushes to compare with"
            )
        return (
            f"{self.changed} changed rows (limit {self.limit_changed:.0f}, recent median "
            f"{self.median_changed:.0f}), {self.new_sql} new SQLs (limit "
            f"{self.limit_new_sql:.0f}, recent median {self.median_new_sql:.0f}) over the last "
            f"{self.runs_compared} successful pushes"
        )


RECENT_PUSHES_SQL = """
    select
        (stats -> 'push' ->> 'changed')::bigint,
        coalesce(stats -> 'push' ->> 'new_sql', stats -> 'push' ->> 'sql_pushed', '0')::bigint
    from leadflow.runs
    where status = 'success' and run_id <> %s and stats -> 'push' ? 'changed'
    order by finished_at desc nulls last
    limit %s
"""


def check_volume(
    pg: PostgresSettings,
    run_id: str,
    force: bool = False,
    settings: BreakerSettings | None = None,
) -> BreakerVerdict:
    """Judge this push's size (BreakerSettings); store the verdict; raise if it trips,
    unless `force` (a person checked the numbers and wants the push)."""
    from statistics import median

    from leadflow.plan import count_changes

    settings = settings or read(BreakerSettings)
    counts = count_changes(pg)
    with connect(pg) as conn:
        recent = conn.execute(RECENT_PUSHES_SQL, (run_id, settings.history)).fetchall()
    verdict = BreakerVerdict(**asdict(counts), runs_compared=len(recent), forced=force)
    if counts.first_push and settings.confirm_first_push and counts.changed:
        verdict.tripped = True
    elif len(recent) >= settings.min_history:
        verdict.median_changed = float(median(r[0] for r in recent))
        verdict.median_new_sql = float(median(r[1] for r in recent))
        verdict.limit_changed = max(settings.min_rows, settings.factor * verdict.median_changed)
        verdict.limit_new_sql = max(settings.min_new_sqls, settings.factor * verdict.median_new_sql)
        verdict.tripped = (
            counts.changed > verdict.limit_changed or counts.new_sql > verdict.limit_new_sql
        )
    else:
        verdict.limit_qualifying_moves = max(
            settings.min_new_sqls, settings.first_pushes_max_share * counts.contacts
        )
        verdict.tripped = counts.qualifying_moves > verdict.limit_qualifying_moves
    passed = not verdict.tripped or force
    _record(
        pg,
        run_id,
        SuiteResult(
            suite=BREAKER_SUITE,
            success=passed,
            evaluated=2,
            failed=0 if passed else 1,
            failures=[{"expectation": "volume_within_norm", **asdict(verdict)}],
        ),
    )
    log.info("volume circuit breaker: %s%s", verdict.summary(), " (forced)" if force else "")
    if verdict.tripped and not force:
        awaiting = verdict.first_push and verdict.limit_qualifying_moves is None
        what = (
            "The first push to a CRM waits for a confirmation"
            if awaiting
            else "Volume circuit breaker tripped"
        )
        raise VolumeBreakerTripped(
            f"{what}; nothing was pushed: {verdict.summary()}. "
            "The rows stay in marts.crm_outgoing_contacts (diff against leadflow.push_state); "
            f"see leadflow.quality_results where run_id = '{run_id}' and suite = "
            f"'{BREAKER_SUITE}'. Check them with `leadflow plan`; if the change is right, push "
            "it once with `leadflow run --force-push` (or trigger lead_sync with "
            "force_push=true).",
            suite=BREAKER_SUITE,
            bad_rows=counts.changed,
            where=(
                f"marts.crm_outgoing_contacts vs leadflow.push_state; leadflow.quality_results "
                f"where run_id = '{run_id}' and suite = '{BREAKER_SUITE}'"
            ),
            title="first push to this CRM awaits confirmation after `leadflow plan`; nothing sent"
            if awaiting
            else "",
        )
    return verdict
