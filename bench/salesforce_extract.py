"""Salesforce extract against the sandbox, as a share of the daily API allocation, beside a
one-record-per-request baseline (`python -m bench.salesforce_extract`).

A generated org (the HubSpot sandbox's 20,000 people, held the Salesforce way) is loaded into
an embedded Postgres: every stream's first load by Bulk API 2.0, then by REST query pages (the
same history, for comparison), then one hour's delta (1,000 leads edited) by keyset reads. The
baseline reads each record with its own GET, as a naive connector would. Requests are what
the sandbox served (the count is exact; the seconds depend on the machine). The allocation is
Enterprise Edition's 100,000 requests per rolling 24 hours before per-licence additions.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from leadflow.db import ensure_schema
from leadflow.local import start_embedded_postgres, stop_embedded_postgres
from leadflow.sources.salesforce import Salesforce
from leadflow.sources.salesforce.client import SalesforceClient
from leadflow.sources.salesforce.objects import READ
from leadflow.sources.salesforce.sandbox.server import SandboxConfig, SandboxServer
from leadflow.sources.salesforce.sandbox.synthetic import generate
from leadflow.sources.salesforce.settings import SalesforceSettings
from leadflow.sources.salesforce.streams import extract_stream

NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)
HOUR = timedelta(hours=1)
PEOPLE = 20_000
DAILY = 100_000
BASELINE_SAMPLE = 500


def _load_all(pg, settings: SalesforceSettings, end: datetime, label: str) -> dict[str, float]:
    began, records, requests = time.perf_counter(), 0, 0
    for obj in READ:
        stats = extract_stream(obj.stream, pg, settings, end - HOUR, end, f"{label}-{end}")
        records += stats.received
        requests += stats.requests
    seconds = time.perf_counter() - began
    return {
        f"{label}_records": records,
        f"{label}_requests": requests,
        f"{label}_s": round(seconds, 1),
        f"{label}_records_per_s": round(records / seconds),
        f"{label}_share_of_daily_pct": round(100 * requests / DAILY, 3),
    }


def _reset(pg) -> None:
    with psycopg.connect(**pg.conninfo(), autocommit=True) as conn:
        conn.execute("truncate leadflow.stream_state")
        for obj in READ:
            conn.execute(f"truncate raw.{obj.stream}")


def measure(pg) -> dict[str, float]:
    ensure_schema(pg)
    with psycopg.connect(**pg.conninfo(), autocommit=True) as conn:
        conn.execute(Salesforce().schema_sql())
    began = time.perf_counter()
    org = generate(seed=11, people=PEOPLE, now=NOW - 2 * HOUR)
    results: dict[str, float] = {"people": PEOPLE, "generate_s": round(time.perf_counter() - began)}
    org.clock = lambda: NOW - HOUR
    with SandboxServer(org, SandboxConfig()) as server:
        settings = server.client_settings(settle_s=0)
        results.update(
            _load_all(pg, dataclasses.replace(settings, bulk_first_load=False), NOW, "rest")
        )
        _reset(pg)
        results.update(_load_all(pg, settings, NOW, "bulk"))
        leads = [r["Id"] for r in org.records["Lead"].values() if not r["IsConverted"]][:1000]
        org.clock = lambda: NOW + timedelta(minutes=5)
        for lead in leads:
            org.update("Lead", lead, {"Rating": "Warm"})
        results.update(_load_all(pg, settings, NOW + HOUR, "hourly"))
        results["hourly_share_of_daily_pct_over_24h"] = round(
            24 * 100 * results["hourly_requests"] / DAILY, 2
        )
        with SalesforceClient(settings) as client:
            sample = list(org.records["Lead"])[:BASELINE_SAMPLE]
            began = time.perf_counter()
            for lead in sample:
                client.request("GET", f"/sobjects/Lead/{lead}")
            per_record = (time.perf_counter() - began) / len(sample)
        total = results["bulk_records"]
        results["baseline_requests"] = total
        results["baseline_share_of_daily_pct"] = round(100 * total / DAILY, 1)
        results["baseline_est_s"] = round(per_record * total)
        results["bulk_vs_baseline_requests"] = round(total / results["bulk_requests"], 1)
    return results


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="leadflow-bench-sf-") as tmp:
        data = Path(tmp) / "pgdata"
        pg = start_embedded_postgres(data, dbname="bench_salesforce")
        try:
            print(json.dumps(measure(pg), indent=2))
        finally:
            stop_embedded_postgres(data)


if __name__ == "__main__":
    main()
