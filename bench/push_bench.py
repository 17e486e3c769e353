"""Rows per second of the push against the sandbox at a Pro/Enterprise token's 190 requests/10 s.

A sandbox portal with `--rows` contacts (served over HTTP with `rate_limit_per_10s=190`, so the
server answers 429 if the client overruns), an outgoing mart written by hand on an embedded
Postgres, then one full push per `--workers` setting (fresh push state each time). Reported per
setting: rows pushed, requests, wall time and rows/s, plus the steady state after the first
10-second window (HubSpot's window allows a burst of 190 requests, then 19/s): rows/s, and the
accepted requests of the second window as a fraction of the 190 allowed (target >= 90%). Then the
naive baseline on the same portal and rate limit: `--naive-rows` contacts pushed one PATCH per
contact, and the ratio of the two steady rows/s. Prints one JSON document.

    python -m bench.push_bench [--rows 40000] [--workers 1,2,4] [--naive-rows 600]
                               [--latency-ms 0]
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.rate_budget import BUDGET, WINDOW_S, stamp_requests, steady_window
from leadflow import plan, quality, send
from leadflow.db import connect, ensure_schema, open_connection
from leadflow.local import start_embedded_postgres, stop_embedded_postgres
from leadflow.settings import PostgresSettings, PushOptions
from leadflow.sources.hubspot.client import HubSpotClient
from leadflow.sources.hubspot.sandbox import Portal, SandboxConfig, SandboxServer
from leadflow.sources.hubspot.settings import HubSpotSettings
from leadflow.sources.hubspot.writeback import HubSpotCrm, HubSpotSession

TOKEN = "bench-token"
NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)
MART_DDL = """
    drop schema if exists marts cascade;
    create schema marts;
    create table marts.crm_outgoing_contacts (
        contact_id bigint, email text, leadflow_stage text, lifecyclestage text,
        current_lifecyclestage text, leadflow_score integer, fit_score integer,
        engagement_score integer, leadflow_fit_grade text, leadflow_reasons text,
        leadflow_stage_entered_at timestamptz, leadflow_stage_reason text,
        disqualification_reason text, handoff_note_key text
    );
    create table marts.crm_handoff_notes (
        contact_id bigint, note_key text, owner_id bigint, sql_entered_at timestamptz,
        note_body text, task_subject text, task_body text, task_due_at timestamptz
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
                     NOW - timedelta(hours=i % 48), f"{stage.upper()}: score {score} >= 50", None,
                     None]
                )  # fmt: skip


@contextmanager
def fresh_server(
    portal: Portal, config: SandboxConfig, served: list[tuple[float, int]]
) -> Iterator[HubSpotSettings]:
    """A new sandbox server over the portal, for one setting: its rate window starts empty, like
    a new hour, and `served` holds only this setting's requests."""
    with SandboxServer(portal, config, port=0) as server:
        served.clear()
        yield HubSpotSettings(
            base_url=server.url, token=TOKEN, rate_limit_per_10s=BUDGET, search_rate_per_s=4
        )


def fresh_push_state(pg: PostgresSettings) -> None:
    """As before a first push: every row of the mart counts as changed."""
    with connect(pg) as conn:
        conn.execute("truncate leadflow.push_state, leadflow.push_log, leadflow.push_inflight")


def run(
    pg: PostgresSettings, hs: HubSpotSettings, workers: int, served: list[tuple[float, int]]
) -> dict[str, Any]:
    fresh_push_state(pg)
    with quality.outgoing_locked(pg) as conn:  # the outgoing gate's seal, as after a pass
        quality.seal_outgoing(conn, f"bench-w{workers}")
    start = time.monotonic()
    stats = send.push(pg, HubSpotCrm(hs), f"bench-w{workers}", PushOptions(workers=workers))
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
        "steady_fraction_of_budget": round(steady_window(served) / BUDGET, 3),
        "http_429": sum(1 for _, status in served if status == 429),
    }


def naive(
    pg: PostgresSettings, hs: HubSpotSettings, rows: int, served: list[tuple[float, int]]
) -> dict[str, Any]:
    """The baseline: the first `rows` changed contacts, one PATCH each with the payload the push
    would batch, through the same client and rate budget."""
    fresh_push_state(pg)
    with HubSpotClient(hs) as client, open_connection(pg) as conn:
        session = HubSpotSession(client)
        session.prepare(create_missing=False)
        plans = list(itertools.islice(plan.changed(conn, session, PushOptions()), rows))
        served.clear()
        start = time.monotonic()
        for p in plans:
            client.request(
                "PATCH", f"/crm/v3/objects/contacts/{p.contact_id}", json={"properties": p.payload}
            )
        wall = time.monotonic() - start
    steady = steady_window(served)
    return {
        "rows_pushed": len(plans),
        "requests": len(plans),
        "seconds": round(wall, 2),
        "steady_rows_per_s_after_first_10s": round(steady / WINDOW_S, 1),
        "steady_fraction_of_budget": round(steady / BUDGET, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=40_000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--naive-rows", type=int, default=600)
    parser.add_argument("--latency-ms", type=int, default=0, help="added per request")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="leadflow-push-bench-")) / "pgdata"
    pg = start_embedded_postgres(data_dir, dbname="push_bench", reset=True)
    portal = Portal()
    portal.clock = lambda: NOW
    served = stamp_requests(portal)
    config = SandboxConfig(token=TOKEN, rate_limit_per_10s=BUDGET, latency_ms=args.latency_ms)
    results = []
    try:
        t0 = time.monotonic()
        build(pg, portal, args.rows)
        setup_s = time.monotonic() - t0
        for workers in [int(w) for w in args.workers.split(",")]:
            with fresh_server(portal, config, served) as hs:
                results.append(run(pg, hs, workers, served))
        with fresh_server(portal, config, served) as hs:
            baseline = naive(pg, hs, args.naive_rows, served)
    finally:
        stop_embedded_postgres(data_dir)
    best = max(r["steady_rows_per_s_after_first_10s"] or 0 for r in results)
    print(
        json.dumps(
            {
                "rows": args.rows,
                "rate_limit_per_10s": BUDGET,
                "ceiling_rows_per_s": BUDGET / WINDOW_S * 100,
                "setup_s": round(setup_s, 1),
                "runs": results,
                "naive_one_per_request": baseline,
                "steady_rows_per_s_vs_naive": round(
                    best / baseline["steady_rows_per_s_after_first_10s"], 1
                ),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
