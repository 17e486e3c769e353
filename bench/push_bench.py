"""Rows per second of the push against the sandbox at a Pro/Enterprise token's 190 requests/10 s.

A sandbox portal with `--rows` contacts (served over HTTP with `rate_limit_per_10s=190`, so the
server answers 429 if the client overruns), an outgoing mart written by hand on an embedded
Postgres, then one full push per `--workers` setting (fresh push state each time). Reported per
setting: rows pushed, requests, wall time and rows/s, plus the steady-state rows/s after the
first 10-second window (HubSpot's window allows a burst of 190 requests, then 19/s).
Prints one JSON document.

    python -m bench.push_bench [--rows 40000] [--workers 1,2,4] [--latency-ms 0]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from leadflow import push
from leadflow.config import HubSpotSettings, PostgresSettings
from leadflow.db import connect, ensure_schema
from leadflow.local import start_embedded_postgres, stop_embedded_postgres
from leadflow.sandbox import Portal, SandboxConfig, SandboxServer

TOKEN = "bench-token"
NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)
MART_DDL = """
    drop schema if exists marts cascade;
    create schema marts;
    create table marts.crm_outgoing_contacts (
        contact_id bigint, email text, leadflow_stage text, lifecyclestage text,
        current_lifecyclestage text, leadflow_score integer, fit_score integer,
        engagement_score integer, leadflow_fit_grade text, leadflow_reasons text,
        leadflow_stage_entered_at timestamptz, disqualification_reason text
    )
"""
STAGES = [("mql", "marketingqualifiedlead"), ("sql", "salesqualifiedlead"), ("lead", "lead")]


def build(pg: PostgresSettings, portal: Portal, rows: int) -> None:
    ensure_schema(pg)
    with connect(pg) as conn:
        conn.execute(MART_DDL)
        with conn.cursor().copy("copy marts.crm_outgoing_contacts from stdin") as copy:
            for i in range(rows):
                cid = portal.add_contact(
                    {"email": f"p{i}@bench.example", "lifecyclestage": "lead"},
                    created_at=NOW - timedelta(days=9),
                    updated_at=NOW - timedelta(days=1),
                )
                stage, life = STAGES[i % 3]
                score = i % 101
                copy.write_row(
                    [cid, f"p{i}@bench.example", stage, life, "lead", score, score, score,
                     "ABCD"[i % 4], f"+{score} demo request (2026-11-20); -5 free-mail domain",
                     NOW - timedelta(hours=i % 48), None]
                )  # fmt: skip


def run(pg: PostgresSettings, hs: HubSpotSettings, workers: int) -> dict[str, Any]:
    with connect(pg) as conn:
        conn.execute("truncate leadflow.push_state, leadflow.push_log, leadflow.push_inflight")
    start = time.monotonic()
    stats = push.push(pg, hs, f"bench-w{workers}", push.PushOptions(workers=workers))
    wall = time.monotonic() - start
    with connect(pg) as conn:
        (after_window,) = conn.execute(
            "select count(*) from leadflow.push_log where run_id = %s"
            " and logged_at > (select min(logged_at) from leadflow.push_log where run_id = %s)"
            " + interval '10 seconds'",
            (f"bench-w{workers}", f"bench-w{workers}"),
        ).fetchone()
        (last,) = conn.execute(
            "select extract(epoch from max(logged_at) - min(logged_at)) from leadflow.push_log"
            " where run_id = %s",
            (f"bench-w{workers}",),
        ).fetchone()
    steady = float(after_window) / (float(last) - 10) if last and float(last) > 10.5 else None
    return {
        "workers": workers,
        "rows_pushed": stats.pushed,
        "failed": stats.failed,
        "requests": stats.requests,
        "seconds": round(wall, 2),
        "rows_per_s": round(stats.pushed / wall, 1),
        "steady_rows_per_s_after_first_10s": round(steady, 1) if steady else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=40_000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--latency-ms", type=int, default=0, help="added per request")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="leadflow-push-bench-")) / "pgdata"
    pg = start_embedded_postgres(data_dir, dbname="push_bench", reset=True)
    portal = Portal()
    portal.clock = lambda: NOW
    config = SandboxConfig(token=TOKEN, rate_limit_per_10s=190, latency_ms=args.latency_ms)
    results = []
    try:
        t0 = time.monotonic()
        build(pg, portal, args.rows)
        setup_s = time.monotonic() - t0
        for workers in [int(w) for w in args.workers.split(",")]:
            # A fresh server per setting: its rate window starts empty, like a new hour.
            with SandboxServer(portal, config, port=0) as server:
                hs = HubSpotSettings(
                    base_url=server.url, token=TOKEN, rate_limit_per_10s=190, search_rate_per_s=4
                )
                results.append(run(pg, hs, workers))
                results[-1]["http_429"] = sum(1 for *_, s in portal.request_log if s == 429)
                portal.request_log.clear()
    finally:
        stop_embedded_postgres(data_dir)
    print(
        json.dumps(
            {
                "rows": args.rows,
                "rate_limit_per_10s": 190,
                "ceiling_rows_per_s": 190 / 10 * 100,
                "setup_s": round(setup_s, 1),
                "runs": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
