"""`leadflow` command line: the demo, the sandbox, and one-off runs for operators."""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

from leadflow.local import REPO_ROOT

STATE_DIR = Path(os.environ.get("LEADFLOW_STATE_DIR", REPO_ROOT / ".leadflow"))
SANDBOX_TOKEN = "sandbox-token"


def _current_hour() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def cmd_demo(args: argparse.Namespace) -> int:
    """Embedded Postgres + seeded sandbox + one lead_sync run through Airflow, then a summary."""
    from leadflow.local import (
        airflow_env,
        connection_env,
        prepare_airflow,
        run_lead_sync,
        start_embedded_postgres,
    )
    from leadflow.sandbox import Portal, SandboxConfig, SandboxServer

    began = time.monotonic()
    logical_date = _current_hour()
    print(
        f"leadflow demo: {args.contacts} synthetic contacts, "
        f"run for the hour ending {logical_date:%Y-%m-%d %H:%M} UTC"
    )
    pg = start_embedded_postgres(STATE_DIR / "pgdata", dbname="leadflow", reset=True)
    print(f"  postgres   embedded, socket {pg.host}")
    portal = Portal.generate(seed=args.seed, contacts=args.contacts, now=logical_date)
    config = SandboxConfig(token=SANDBOX_TOKEN, rate_limit_per_10s=190, search_rate_per_s=5)
    server = SandboxServer(portal, config, port=0).start()
    print(f"  hubspot    sandbox at {server.url} (190 requests / 10 s)")
    os.environ.update(airflow_env(STATE_DIR / "airflow"))
    os.environ.update(
        connection_env(
            pg, server.url, SANDBOX_TOKEN, {"rate_limit_per_10s": 190, "search_rate_per_s": 5}
        )
    )
    if not args.verbose:
        os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "ERROR"
        warnings.filterwarnings("ignore")
    prepare_airflow(STATE_DIR / "airflow")
    print("  airflow    running lead_sync once (dag.test) ...")
    try:
        dag_run = run_lead_sync(logical_date)
    finally:
        server.stop()
    print(_summary(pg, dag_run, time.monotonic() - began))
    return 0 if str(dag_run.state) in ("success", "DagRunState.SUCCESS") else 1


def _summary(pg: object, dag_run: object, elapsed: float) -> str:
    from leadflow.db import connect

    with connect(pg) as conn:  # type: ignore[arg-type]
        run = conn.execute(
            "select status, stats from leadflow.runs where run_id = %s",
            (dag_run.run_id,),  # type: ignore[attr-defined]
        ).fetchone()
        checks = conn.execute(
            "select suite, success, evaluated, failed from leadflow.quality_results"
            " where run_id = %s order by suite",
            (dag_run.run_id,),  # type: ignore[attr-defined]
        ).fetchall()
        quarantined = conn.execute("select count(*) from leadflow.quarantine").fetchone()[0]
    status, stats = run if run else ("unknown", {})
    lines = ["", f"lead_sync run {dag_run.run_id}: {status} in {elapsed:.0f} s"]  # type: ignore[attr-defined]
    stages = stats.get("stages", {})
    order = [
        "suspect",
        "lead",
        "mql",
        "sal",
        "sql",
        "opportunity",
        "customer",
        "nurture",
        "disqualified",
    ]
    lines.append("leads per stage:")
    for stage in order:
        if stage in stages:
            lines.append(f"  {stage:<13}{stages[stage]:>7}")
    extract = stats.get("extract") or []
    loaded = ", ".join(f"{e['stream']} {e['received']}" for e in extract)
    if loaded:
        lines.append(f"extracted: {loaded}; quarantined {quarantined}")
    push = stats.get("push") or {}
    if push:
        lines.append(
            f"pushed to CRM: {push.get('pushed', 0)} contacts ({push.get('sql_pushed', 0)} SQLs),"
            f" {push.get('failed', 0)} rejected"
        )
    passed = sum(1 for c in checks if c[1])
    lines.append(
        f"quality checks: {passed}/{len(checks)} suites passed, "
        f"{sum(c[2] - c[3] for c in checks)}/{sum(c[2] for c in checks)} expectations met"
    )
    return "\n".join(lines)


def cmd_sandbox(args: argparse.Namespace) -> int:
    """Serve a seeded HubSpot-compatible sandbox until interrupted."""
    from leadflow.sandbox import serve_forever

    serve_forever(
        host=args.host,
        port=args.port,
        seed=args.seed,
        contacts=args.contacts,
        token=os.environ.get("HUBSPOT_SANDBOX_TOKEN", SANDBOX_TOKEN),
        rate_limit_per_10s=args.rate_limit,
        error_rate_5xx=args.error_rate,
        latency_ms=args.latency_ms,
        batch_failure_rate=args.batch_failure_rate,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="leadflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run the whole pipeline once on embedded defaults")
    demo.add_argument("--contacts", type=int, default=5000)
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--verbose", action="store_true", help="show Airflow task logs")
    demo.set_defaults(func=cmd_demo)

    sandbox = sub.add_parser("sandbox", help="serve the HubSpot-compatible sandbox")
    sandbox.add_argument("--host", default="127.0.0.1", help="0.0.0.0 inside a container")
    sandbox.add_argument("--port", type=int, default=8765)
    sandbox.add_argument("--seed", type=int, default=42)
    sandbox.add_argument("--contacts", type=int, default=5000)
    sandbox.add_argument("--rate-limit", type=int, default=None, help="requests per 10 s")
    sandbox.add_argument("--error-rate", type=float, default=0.0, help="fraction of 5xx answers")
    sandbox.add_argument("--latency-ms", type=int, default=0)
    sandbox.add_argument("--batch-failure-rate", type=float, default=0.0)
    sandbox.set_defaults(func=cmd_sandbox)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
