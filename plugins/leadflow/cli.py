"""`leadflow`: the operator's command line.

`demo` runs on embedded defaults; `run`, `backfill`, `plan`, `report`, `doctor` and `dbt` use
the configured Airflow connections (the warehouse's and the sources'), i.e. a real deployment.

Exit codes scripts can rely on: 0 ok; 1 the pipeline or a check failed; 2 usage or
configuration error (bad arguments, a missing connection, a rejected token, an unreachable
server). Expected failures print one clear message on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from leadflow.arguments import at_least
from leadflow.errors import ConfigError, SourceError
from leadflow.settings import REPO_ROOT, PostgresSettings, paths
from leadflow.stages import STAGES
from leadflow.stats import DryRunStats, RunStats

STATE_DIR = Path(paths().state_dir)
HOUR = timedelta(hours=1)
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad arguments the parser cannot catch itself (e.g. an interval not on the hour)."""


def _current_hour() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def _err(message: str) -> None:
    print(f"leadflow: error: {message}", file=sys.stderr)


# -- Airflow in this process --------------------------------------------------------------------


def _airflow_env(verbose: bool) -> Path:
    """Point Airflow at AIRFLOW_HOME (or .leadflow/airflow) before anything imports it."""
    from leadflow.local import airflow_env

    if "AIRFLOW_HOME" not in os.environ:
        os.environ.update(airflow_env(STATE_DIR / "airflow"))
    else:
        home = Path(os.environ["AIRFLOW_HOME"])
        os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
        if not (home / "airflow.cfg").exists():
            os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO_ROOT / "dags"))
    if not verbose:
        # Task errors are caught by the progress listener and summarised; Airflow's own
        # tracebacks of expected failures (a failed gate) are noise here. --verbose shows all.
        os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "CRITICAL"
        warnings.filterwarnings("ignore")
    return Path(os.environ["AIRFLOW_HOME"])


def _airflow_ready(verbose: bool) -> None:
    """Airflow env plus a metadata database (created once for the local SQLite home)."""
    from leadflow.local import prepare_airflow

    prepare_airflow(_airflow_env(verbose))


def _expected_tasks() -> int:
    """Tasks a successful run executes (mapped extract counted per stream)."""
    from leadflow.local import load_lead_sync

    total = 0
    for task in load_lead_sync().tasks:
        if task.task_id == "record_failure":
            continue
        # A decorated mapped task keeps its literal expand() arguments here.
        expand = getattr(task, "op_kwargs_expand_input", None) or getattr(
            task, "expand_input", None
        )
        values = getattr(expand, "value", None)
        if isinstance(values, dict) and values:
            total += len(next(iter(values.values())))
        else:
            total += 1
    return total


class TaskProgress:
    """An Airflow task-instance listener drawing one progress bar per DAG run.

    dag.test runs every task in this process, so the listener sees each task start and end:
    a bar on a terminal, one line per finished task otherwise (logs, CI, scripts).
    """

    def __init__(self, label: str, total: int, out: TextIO | None = None) -> None:
        self.label = label
        self.total = total
        self.out = out or sys.stderr
        self.done = 0
        self.failed: list[str] = []
        self.errors: dict[str, str] = {}
        self.started: dict[str, float] = {}
        self.bar: Any = None
        if self.out.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=label, unit="task", file=self.out, leave=True)

    @staticmethod
    def _name(ti: Any) -> str:
        stream = (getattr(getattr(ti, "task", None), "op_kwargs", None) or {}).get("stream")
        index = getattr(ti, "map_index", -1)
        if stream:
            return f"{ti.task_id}[{stream}]"
        return f"{ti.task_id}[{index}]" if index is not None and index >= 0 else ti.task_id

    def _running(self, ti: Any) -> None:
        name = self._name(ti)
        self.started[name] = time.monotonic()
        if self.bar is not None:
            self.bar.set_postfix_str(name)

    def _finished(self, ti: Any, outcome: str) -> None:
        if ti.task_id == "record_failure":
            return
        name = self._name(ti)
        took = time.monotonic() - self.started.get(name, time.monotonic())
        if outcome == "ok":
            self.done += 1
            self.total = max(self.total, self.done)
        else:
            self.failed.append(name)
        if self.bar is not None:
            if outcome == "ok":
                self.bar.update(1)
            self.bar.set_postfix_str(f"{name} {outcome}")
        else:
            print(
                f"  {self.label} [{self.done}/{self.total}] {name} {outcome} ({took:.1f} s)",
                file=self.out,
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    # pluggy hook implementations (project "airflow"); names must match Airflow's hookspecs.
    def on_task_instance_running(self, previous_state: Any, task_instance: Any) -> None:
        self._running(task_instance)

    def on_task_instance_success(self, previous_state: Any, task_instance: Any) -> None:
        self._finished(task_instance, "ok")

    def on_task_instance_failed(
        self, previous_state: Any, task_instance: Any, error: Any = None
    ) -> None:
        retrying = str(getattr(task_instance, "state", "")).endswith("up_for_retry")
        if error is not None and task_instance.task_id != "record_failure":
            self.errors[self._name(task_instance)] = _short_error(error)
        self._finished(task_instance, "failed, will retry" if retrying else "failed")


def _short_error(error: Any) -> str:
    """The gist of a task's exception: a quality gate's first line (its details are printed
    from leadflow.quality_results), otherwise up to 8 lines (dbt lists its failures there)."""
    lines = str(error).strip().splitlines() or [type(error).__name__]
    keep = 1 if type(error).__name__ == "QualityGateFailed" else 8
    return "\n".join(lines[:keep])


def _mark_hookimpls() -> None:
    import pluggy

    hookimpl = pluggy.HookimplMarker("airflow")
    for name in ("on_task_instance_running", "on_task_instance_success", "on_task_instance_failed"):
        hookimpl(getattr(TaskProgress, name))


_mark_hookimpls()


def _run_once(
    logical_date: datetime, dry_run: bool, total: int, force_push: bool = False
) -> tuple[Any, TaskProgress]:
    """One DAG run for the interval ending at `logical_date`, with a progress listener."""
    from leadflow.local import run_lead_sync

    start = logical_date - HOUR
    label = f"{start:%Y-%m-%d %H:%M}→{logical_date:%H:%M}"
    progress = TaskProgress(label, total)
    try:
        conf = {"force_push": True} if force_push else None
        run = run_lead_sync(logical_date, dry_run=dry_run, listener=progress, conf=conf)
        return run, progress
    finally:
        progress.close()


def _succeeded(dag_run: Any) -> bool:
    return str(dag_run.state) in ("success", "DagRunState.SUCCESS")


# -- connections ---------------------------------------------------------------------------------


def _connections(check_sources: bool = True) -> PostgresSettings:
    """Read the connections and prove they work before anything long starts.

    Raises ConfigError (exit 2) with what to fix, so a typo fails in seconds instead of after
    the DAG's retries.
    """
    from leadflow.db import open_connection
    from leadflow.settings import postgres_settings
    from leadflow.sources import configured

    pg = postgres_settings()
    if check_sources:
        for source in configured():  # each reads (and checks) its settings before a request
            source.ping()
    open_connection(pg).close()
    return pg


# -- commands ------------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    """Embedded Postgres + seeded sandboxes + one lead_sync run through Airflow, then a summary."""
    from contextlib import ExitStack

    from leadflow.local import start_embedded_postgres, warehouse_env
    from leadflow.sources import configured

    began = time.monotonic()
    logical_date = _current_hour()
    print(
        f"leadflow demo: {args.contacts} synthetic contacts, "
        f"run for the hour ending {logical_date:%Y-%m-%d %H:%M} UTC"
    )
    pg = start_embedded_postgres(STATE_DIR / "pgdata", dbname="leadflow", reset=True)
    print(f"  postgres   embedded, socket {pg.host}")
    os.environ.pop("AIRFLOW_HOME", None)  # the demo always uses its own Airflow home
    # A real CRM's first push waits for `leadflow run --force-push` after `leadflow plan`; the
    # demo's portal is synthetic and fresh every time, so its first push goes out at once.
    os.environ["LEADFLOW_BREAKER_CONFIRM_FIRST_PUSH"] = "false"
    print("  first push confirmed for the synthetic portal (a real CRM's waits for you)")
    os.environ.update(warehouse_env(pg))
    with ExitStack() as sandboxes:
        for source in configured():
            os.environ.update(
                sandboxes.enter_context(
                    source.sandbox().demo(args.seed, args.contacts, logical_date, args.tier)
                )
            )
        _airflow_ready(args.verbose)
        print("  airflow    running lead_sync once (dag.test) ...", flush=True)
        dag_run, progress = _run_once(logical_date, False, _expected_tasks())
    print(_summary(pg, dag_run, time.monotonic() - began, progress.errors))
    if args.report:
        from leadflow.report import write_report

        print(f"report: {write_report(pg, Path(args.report))}")
    return EXIT_OK if _succeeded(dag_run) else EXIT_FAILED


def _summary(
    pg: PostgresSettings, dag_run: Any, elapsed: float, errors: dict[str, str] | None = None
) -> str:
    """What a person wants after a run: stages, counts, gates, and on failure why + what next."""
    from leadflow.db import connect

    with connect(pg) as conn:
        run = conn.execute(
            "select status, stats, error from leadflow.runs where run_id = %s",
            (dag_run.run_id,),
        ).fetchone()
        checks = conn.execute(
            "select suite, success, evaluated, failed, details from leadflow.quality_results"
            " where run_id = %s order by suite",
            (dag_run.run_id,),
        ).fetchall()
        quarantined = conn.execute("select count(*) from leadflow.quarantine").fetchone()[0]
    status, stored, error = run if run else ("unknown", {}, None)
    stats = RunStats.from_dict(stored)
    lines = ["", f"lead_sync run {dag_run.run_id}: {status} in {elapsed:.0f} s"]
    if stats.stages:
        lines.append("leads per stage:")
        for stage in STAGES:
            if stage in stats.stages:
                lines.append(f"  {stage:<13}{stats.stages[stage]:>7}")
    loaded = ", ".join(f"{e.stream} {e.received}" for e in stats.extract)
    if loaded:
        lines.append(f"extracted: {loaded}; quarantined {quarantined}")
    for skipped in (e for e in stats.extract if e.unavailable):
        lines.append(f"  {skipped.stream} skipped: {skipped.unavailable}")
    for loose in (e for e in stats.extract if e.unlinked):
        lines.append(f"  {loose.stream}: {loose.unlinked} tied to no contact (kept, not scored)")
    if stats.unattributed:
        named = ", ".join(f"{kind} {n}" for kind, n in stats.unattributed.items())
        lines.append(f"  naming no known contact (kept, scored once one appears): {named}")
    if stats.unmapped:
        named = ", ".join(f"{value} ×{n}" for value, n in stats.unmapped.items())
        lines.append(f"  history values no mapping seed knows (not in the stage log): {named}")
    push = stats.push
    if isinstance(push, DryRunStats):
        lines.append(
            f"dry run: {push.would_change} contacts would change in the CRM ({push.create}"
            f" created, {push.update} updated); nothing was sent"
        )
    elif push is not None:
        restored = f", {push.restored} restored" if push.restored else ""
        lines.append(
            f"pushed to CRM: {push.pushed} contacts ({push.sql_pushed} SQLs){restored},"
            f" {push.failed} rejected"
        )
        lines.append(
            f"  hand-off notes {push.notes_written}, tasks {push.tasks_written}; nurture list"
            f" +{push.nurture_added} -{push.nurture_removed}; {push.requests} requests"
            f" in {push.seconds:.1f} s"
        )
    if checks:
        passed = sum(1 for c in checks if c[1])
        lines.append(
            f"quality checks: {passed}/{len(checks)} suites passed, "
            f"{sum(c[2] - c[3] for c in checks)}/{sum(c[2] for c in checks)} expectations met"
        )
    for suite, ok, _, failed, details in checks:
        if not ok:
            lines.append(f"  ✗ {suite}: {failed} expectation(s) failed")
            for d in details or []:
                lines.append(
                    f"      {d.get('expectation')} on {d.get('column') or 'table'}:"
                    f" {d.get('unexpected_count', '?')} bad rows, e.g. {d.get('examples')}"
                )
    for task, message in (errors or {}).items():
        lines.append(f"  {task}: " + message.replace("\n", "\n    "))
    if status != "success":
        lines.append(f"error: {error or 'see the Airflow task logs (--verbose)'}")
        lines.append("what next: docs/runbook.md, 'Read an alert and recover'")
    return "\n".join(lines)


def cmd_run(args: argparse.Namespace) -> int:
    """One lead_sync run now, for the hour that just ended, through Airflow."""
    _airflow_env(args.verbose)
    pg = _connections()
    _airflow_ready(args.verbose)
    logical_date = _current_hour()
    total = _expected_tasks()
    print(
        f"lead_sync for {logical_date - HOUR:%Y-%m-%d %H:%M} → {logical_date:%H:%M} UTC", flush=True
    )
    began = time.monotonic()
    dag_run, progress = _run_once(logical_date, args.dry_run, total, args.force_push)
    print(_summary(pg, dag_run, time.monotonic() - began, progress.errors))
    return EXIT_OK if _succeeded(dag_run) else EXIT_FAILED


def parse_hour(value: str) -> datetime:
    """An ISO date or datetime on the hour; naive means UTC."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"'{value}' is not an ISO date/time (e.g. 2026-11-23 or 2026-11-23T10:00)"
        ) from exc
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if moment.minute or moment.second or moment.microsecond:
        raise argparse.ArgumentTypeError(f"'{value}' is not on the hour (runs are hourly)")
    return moment


def parse_moment(value: str) -> datetime:
    """An ISO date or datetime; naive means UTC."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"'{value}' is not an ISO date/time") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def hourly_intervals(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Every hourly interval in [start, end), oldest first."""
    if end <= start:
        raise UsageError(f"--end ({end:%Y-%m-%d %H:%M}) must be after --start")
    count = int((end - start) / HOUR)
    return [(start + i * HOUR, start + (i + 1) * HOUR) for i in range(count)]


def cmd_backfill(args: argparse.Namespace) -> int:
    """Each hourly interval in [start, end) in order; stops at the first failed interval."""
    intervals = hourly_intervals(args.start, args.end)
    if len(intervals) > args.max_intervals:
        raise UsageError(
            f"{len(intervals)} intervals requested, more than --max-intervals "
            f"{args.max_intervals}; raise it if you mean it (each run takes ~20-60 s)"
        )
    _airflow_env(args.verbose)
    pg = _connections()
    _airflow_ready(args.verbose)
    total = _expected_tasks()
    print(
        f"backfill: {len(intervals)} hourly interval(s) from {args.start:%Y-%m-%d %H:%M} UTC",
        flush=True,
    )
    totals = {"pushed": 0, "rejected": 0, "quarantined": 0}
    for i, (start, end) in enumerate(intervals, 1):
        began = time.monotonic()
        dag_run, progress = _run_once(end, args.dry_run, total, args.force_push)
        took = time.monotonic() - began
        if not _succeeded(dag_run):
            print(_summary(pg, dag_run, took, progress.errors))
            print(
                f"backfill stopped at interval {i}/{len(intervals)} ({start:%Y-%m-%d %H:%M} UTC)."
                f" Fix the cause, then resume with: leadflow backfill --start "
                f"{start:%Y-%m-%dT%H:%M} --end {args.end:%Y-%m-%dT%H:%M}"
            )
            return EXIT_FAILED
        outcome = _run_outcome(pg, dag_run.run_id)
        for key in totals:
            totals[key] += outcome.get(key, 0)
        print(
            f"  ✓ {start:%Y-%m-%d %H:%M} → {end:%H:%M}  {dag_run.run_id}  {took:.0f} s  "
            + _outcome_text(outcome),
            flush=True,
        )
    print(f"backfill done: {len(intervals)} interval(s) succeeded; {_outcome_text(totals)}")
    return EXIT_OK


def _run_outcome(pg: PostgresSettings, run_id: str) -> dict[str, int]:
    """What one run did that an operator must see: pushed, rejected, quarantined rows."""
    from leadflow.db import connect

    with connect(pg) as conn:
        row = conn.execute(
            "select stats from leadflow.runs where run_id = %s", (run_id,)
        ).fetchone()
    stats = RunStats.from_dict(row[0] if row else None)
    push = stats.push if not isinstance(stats.push, DryRunStats) else None
    return {
        "pushed": push.pushed if push else 0,
        "rejected": push.failed if push else 0,
        "quarantined": stats.quarantined,
    }


def _outcome_text(outcome: dict[str, int]) -> str:
    return (
        f"pushed {outcome['pushed']}, rejected {outcome['rejected']}"
        + (" (retried next run)" if outcome["rejected"] else "")
        + f", quarantined {outcome['quarantined']}"
    )


def cmd_plan(args: argparse.Namespace) -> int:
    """The push as a dry run: which contacts would change in the CRM, and why. Sends nothing."""
    import psycopg

    from leadflow import plan, sources

    _airflow_env(verbose=False)
    pg = _connections()
    try:
        crm = sources.crm()
        plans = plan.plan(pg, crm)
        planned = plan.writes(pg, crm)
    except psycopg.errors.UndefinedTable:
        _err("the outgoing list (marts.crm_outgoing_contacts) is not built yet: `leadflow run`")
        return EXIT_FAILED
    if args.json:
        rows = [
            {
                "contact_id": p.contact_id,
                "action": p.action,
                "before": p.before,
                "after": p.after,
                "payload": p.payload,
            }
            for p in plans[: args.limit or None]
        ]
        writes = {
            "activities": [
                {"kind": a.kind, "contact_id": a.contact_id, "key": a.key, "at": a.at}
                for a in planned.activities
            ],
            "nurture_list": planned.list_id or None,
            "nurture_add": planned.nurture.add,
            "nurture_remove": planned.nurture.remove,
        }
        print(json.dumps({"contacts": rows, **writes}, indent=2, default=str))
    else:
        print(plan.format_plan(plans, limit=args.limit or None))
        print(plan.format_writes(planned, limit=args.limit or None))
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """Write the funnel report (one self-contained HTML file) from the warehouse."""
    from leadflow.report import write_report

    _airflow_env(verbose=False)
    pg = _connections(check_sources=False)
    path = write_report(pg, Path(args.output), last_runs=args.runs)
    print(f"report written to {path.resolve()} ({path.stat().st_size // 1024} KB)")
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    """Check every connection and prerequisite; say exactly what to fix."""
    from leadflow.doctor import run_checks

    _airflow_ready(verbose=False)
    results = run_checks(skip_dbt=args.skip_dbt)
    for check in results:
        print(check.line())
    counts = {s: sum(1 for c in results if c.status == s) for s in ("ok", "warn", "fail", "skip")}
    failed = counts["fail"]
    print(
        f"\n{counts['ok']} ok, {counts['warn']} notes, {counts['skip']} not checked, "
        f"{failed} failed" + (": fix the ✗ line(s) above" if failed else "")
    )
    return EXIT_FAILED if failed else EXIT_OK


def cmd_sandbox(args: argparse.Namespace) -> int:
    """Serve a seeded sandbox of a vendor (the first configured source's by default) until
    interrupted."""
    from leadflow.sources import sandboxes

    found = sandboxes()
    found[args.source].serve(args)
    return EXIT_OK


def cmd_dbt(args: argparse.Namespace) -> int:
    """Any dbt command on the project, with the profile taken from the warehouse connection.

    Without one (right after `make demo`), the demo's embedded Postgres is used. `as_of` is
    the end of the last successful run's interval unless --as-of says otherwise, so models
    are built exactly as that run built them.
    """
    from leadflow.db import connect
    from leadflow.local import start_embedded_postgres
    from leadflow.transform import run_dbt

    _airflow_env(verbose=False)
    try:
        pg = _connections(check_sources=False)
    except ConfigError:
        if not (STATE_DIR / "pgdata").exists():
            raise
        pg = start_embedded_postgres(STATE_DIR / "pgdata", dbname="leadflow")
        print(f"leadflow dbt: the demo's embedded Postgres ({pg.host})", file=sys.stderr)
    as_of = args.as_of
    if as_of is None:
        with connect(pg) as conn:
            exists = conn.execute("select to_regclass('leadflow.runs') is not null").fetchone()
            row = (
                conn.execute(
                    "select max(interval_end) from leadflow.runs where status = 'success'"
                ).fetchone()
                if exists[0]
                else None
            )
        as_of = row[0] if row and row[0] else _current_hour()
    dbt_args = [a for a in args.dbt_args if a != "--"] or ["--help"]
    return run_dbt(pg, dbt_args, as_of)


# -- parser --------------------------------------------------------------------------------------


def _command(
    sub: Any, name: str, func: Callable[[argparse.Namespace], int], summary: str, epilog: str = ""
) -> argparse.ArgumentParser:
    parser = sub.add_parser(
        name,
        help=summary,
        description=f"{summary}\n\n{(func.__doc__ or '').strip()}",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=func)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="leadflow",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = _command(sub, "demo", cmd_demo, "run the whole pipeline once on embedded defaults")
    demo.add_argument(
        "--contacts", type=at_least(1), default=5000, help="synthetic contacts to seed"
    )
    demo.add_argument("--seed", type=int, default=42, help="seed of the synthetic portal")
    from leadflow.sources import sandboxes

    vendors = sandboxes()
    first = next(iter(vendors.values()))
    demo.add_argument(
        "--tier",
        choices=first.tiers,
        default=first.default_tier,
        help="the sandbox portal's subscription tier",
    )
    demo.add_argument("--report", metavar="PATH", help="also write the funnel report there")
    demo.add_argument("--verbose", action="store_true", help="show Airflow task logs")

    run = _command(
        sub,
        "run",
        cmd_run,
        "run lead_sync once now, for the hour that just ended",
        "example: leadflow run --dry-run   # everything but the push; the plan is logged",
    )
    run.add_argument("--dry-run", action="store_true", help="plan the push, send nothing")
    run.add_argument(
        "--force-push",
        action="store_true",
        help="push even if the volume circuit breaker trips (after you checked the numbers)",
    )
    run.add_argument("--verbose", action="store_true", help="show Airflow task logs")

    backfill = _command(
        sub,
        "backfill",
        cmd_backfill,
        "run lead_sync for each hourly interval in [start, end), oldest first",
        "example: leadflow backfill --start 2026-11-20T00:00 --end 2026-11-21T00:00\n"
        "Times are UTC unless they carry an offset. Re-running an interval is safe: every task"
        " is idempotent on its interval and the push sends only what changed.",
    )
    backfill.add_argument("--start", type=parse_hour, required=True, help="first interval start")
    backfill.add_argument("--end", type=parse_hour, required=True, help="last interval end")
    backfill.add_argument("--dry-run", action="store_true", help="plan the push, send nothing")
    backfill.add_argument(
        "--force-push", action="store_true", help="override the volume circuit breaker"
    )
    backfill.add_argument(
        "--max-intervals",
        type=at_least(1),
        default=168,
        help="refuse longer ranges (default one week)",
    )
    backfill.add_argument("--verbose", action="store_true", help="show Airflow task logs")

    plan = _command(sub, "plan", cmd_plan, "show what the next push would send (dry run)")
    plan.add_argument("--limit", type=at_least(0), default=50, help="contacts to list (0 = all)")
    plan.add_argument("--json", action="store_true", help="machine-readable output")

    report = _command(sub, "report", cmd_report, "write the funnel report as one HTML file")
    report.add_argument(
        "-o", "--output", default="leadflow-report.html", help="where to write the page"
    )
    report.add_argument("--runs", type=at_least(1), default=24, help="recent runs to show")

    doctor = _command(
        sub, "doctor", cmd_doctor, "check connections, scopes, properties, dbt and GX suites"
    )
    doctor.add_argument("--skip-dbt", action="store_true", help="skip `dbt parse`")

    names = list(vendors)
    sandbox = _command(
        sub,
        "sandbox",
        cmd_sandbox,
        "serve a vendor's sandbox (the first configured source's by default)",
        f"examples: leadflow sandbox {names[0]} --port 8765 --contacts 5000\n"
        f"          leadflow sandbox {names[-1]} --help   (each vendor's own options)\n"
        f"          leadflow sandbox --contacts 100   (the first source: {names[0]})",
    )
    first.add_arguments(sandbox)
    vendor_parsers = sandbox.add_subparsers(
        dest="source", metavar="VENDOR", help=f"one of {', '.join(names)}"
    )
    vendor_parsers.default = names[0]  # plain `leadflow sandbox`: the first source's
    for name, vendor in vendors.items():
        vendor_parser = vendor_parsers.add_parser(name, help=f"serve the {name} sandbox")
        vendor.add_arguments(vendor_parser)

    dbt = _command(
        sub,
        "dbt",
        cmd_dbt,
        "run dbt on the project with the warehouse connection's profile",
        "examples: leadflow dbt build --select int_lead_stages_assigned+\n"
        "          leadflow dbt test --select crm_outgoing_contacts\n"
        "          leadflow dbt docs generate",
    )
    dbt.add_argument(
        "--as-of",
        type=parse_moment,
        default=None,
        help="the build's as_of (ISO-8601); default the last successful run's interval end",
    )
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER, help="dbt's own command and options")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except UsageError as exc:
        _err(str(exc))
        return EXIT_USAGE
    except ConfigError as exc:  # a setting, a rejected token, an unreachable server
        _err(str(exc))
        return EXIT_USAGE
    except SourceError as exc:
        _err(str(exc))
        return EXIT_FAILED
    except KeyboardInterrupt:
        _err("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
