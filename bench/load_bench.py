"""Rows per second of the raw load step (`load_objects`: validate, COPY, set-based upsert).

Synthetic contacts shaped like HubSpot's search results (about 30 properties, ~1.3 kB of JSON
each) are loaded in the extract's batch size, one transaction per batch, into a fresh database on
an embedded Postgres (or `--dsn`). Three passes: the first load into an empty table, a re-load
of identical records (the hourly re-read of a lookback window: nothing changes), and a load
where every record is newer (everything updates). Then marketing events (~250 bytes, the bulk
of the rows at company scale): a first load and a re-load. Each first load is set beside a bare
COPY of the same encoded rows into an empty copy of its raw table, the ceiling for these rows on
this machine. Prints one JSON document.

    python -m bench.load_bench [--rows 200000] [--batch 5000] [--narrow] [--dsn postgresql://..]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from leadflow.db import ensure_schema
from leadflow.extract import BATCH_ROWS, prefetched
from leadflow.load import Encoded, load_concurrently
from leadflow.settings import PostgresSettings
from leadflow.sources.hubspot.raw import encode_events, encode_objects, load_events, load_objects
from leadflow.stats import LoadStats

TARGET_ROWS_PER_S = 150_000
BASE = datetime(2026, 11, 1, tzinfo=UTC)


def contacts(n: int, version: int = 0, narrow: bool = False) -> list[dict[str, Any]]:
    """`n` contacts with realistic property counts; `version` shifts every modified date.

    `narrow` keeps only HubSpot's default contact properties (what a list call returns when no
    properties are asked for), about a third of the size.
    """
    records = []
    for i in range(1, n + 1):
        modified = (BASE + timedelta(seconds=i, days=version)).isoformat().replace("+00:00", "Z")
        props = {
            "email": f"person{i}@company{i % 997}.example",
            "firstname": f"First{i}",
            "lastname": f"Last{i}",
            "jobtitle": ("VP Engineering", "Head of Marketing", "Student", "CTO")[i % 4],
            "phone": f"+44 20 7946 {i % 10000:04d}",
            "country": ("United Kingdom", "Germany", "France", "United States")[i % 4],
            "city": ("London", "Berlin", "Paris", "Austin")[i % 4],
            "company": f"Company {i % 997}",
            "website": f"https://company{i % 997}.example",
            "lifecyclestage": ("subscriber", "lead", "marketingqualifiedlead")[i % 3],
            "hs_lead_status": ("NEW", "OPEN", "IN_PROGRESS")[i % 3],
            "hubspot_owner_id": str(101 + i % 8),
            "hs_analytics_source": "ORGANIC_SEARCH",
            "associatedcompanyid": str(1_000_001 + i % 997),
            "createdate": BASE.isoformat().replace("+00:00", "Z"),
            "hs_lastmodifieddate": modified,
            "lastmodifieddate": modified,
            "hs_object_id": str(i),
            "hs_merged_object_ids": None,
            "bant_budget": "yes",
            "bant_authority": None,
            "bant_need": "yes",
            "bant_timeframe": None,
            "num_conversion_events": str(i % 7),
            "hs_email_optout": "false",
            "industry": "COMPUTER_SOFTWARE",
            "numemployees": "51-200",
            "annualrevenue": str(1_000_000 + i),
            "state": "Greater London",
            "zip": "EC1A 1BB",
        }
        if narrow:
            keep = ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate")
            props = {k: props[k] for k in (*keep, "lastname")}
        records.append(
            {
                "id": str(i),
                "properties": props,
                "createdAt": props["createdate"],
                "updatedAt": modified,
                "archived": False,
            }
        )
    return records


def events(n: int) -> list[dict[str, Any]]:
    """`n` marketing events as `GET /events/v3/events` returns them (~250 bytes of JSON each)."""
    return [
        {
            "id": f"0b7c1d2e-{i:012d}",
            "eventType": ("e_visited_page", "e_opened_email", "e_submitted_form")[i % 3],
            "objectType": "CONTACT",
            "objectId": str(1 + i % 100_000),
            "occurredAt": (BASE + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
            "properties": {
                "hs_url": f"https://www.example.com/page/{i % 50}",
                "hs_page_title": "Pricing",
            },
        }
        for i in range(n)
    ]


def _pass(
    pg: PostgresSettings,
    records: list[dict[str, Any]],
    batch: int,
    load_id: str,
    events: bool = False,
) -> dict:
    """Load `records` as the extractor does: batches encoded in its prefetch thread while
    Postgres writes earlier ones on two connections, one transaction per batch."""
    encode, write = (encode_events, load_events) if events else (encode_objects, _load_contacts)
    started = time.perf_counter()
    chunks = (records[offset : offset + batch] for offset in range(0, len(records), batch))
    loaded = load_concurrently(
        pg, prefetched(map(encode, chunks)), lambda conn, encoded: write(conn, encoded, load_id)
    )
    changed = sum(stats.changed for stats in loaded)
    return {**_rate(len(records), time.perf_counter() - started), "changed": changed}


def _rate(rows: int, seconds: float) -> dict:
    return {"rows": rows, "seconds": round(seconds, 3), "rows_per_s": round(rows / seconds)}


def _load_contacts(conn: psycopg.Connection, encoded: Encoded, load_id: str) -> LoadStats:
    return load_objects(conn, "contacts", encoded, load_id)


def _plain_copy(
    pg: PostgresSettings, table: str, columns: str, lines: list[bytes], batch: int
) -> dict:
    """The ceiling for the same rows: one COPY of the already encoded lines into an empty copy
    of the raw table (same columns, keys and indexes, logged), no staging and no upsert."""
    with psycopg.connect(**pg.conninfo()) as conn:
        conn.execute(f"create table bench_plain_copy (like {table} including all)")
        conn.execute("alter table bench_plain_copy alter column _load_id set default 'copy'")
        conn.commit()
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(f"copy bench_plain_copy ({columns}) from stdin") as cp:
            for offset in range(0, len(lines), batch):
                cp.write(b"".join(lines[offset : offset + batch]))
        conn.commit()
        rate = _rate(len(lines), time.perf_counter() - started)
        conn.execute("drop table bench_plain_copy")
    return rate


def run(pg: PostgresSettings, rows: int, batch: int, narrow: bool = False) -> dict[str, Any]:
    ensure_schema(pg)
    first, same = contacts(rows, narrow=narrow), contacts(rows, narrow=narrow)
    newer = contacts(rows, version=1, narrow=narrow)
    result = {
        "rows": rows,
        "batch": batch,
        "record_bytes": len(json.dumps(first[0], separators=(",", ":"))),
        "target_rows_per_s": TARGET_ROWS_PER_S,
        "insert": _pass(pg, first, batch, "bench-1"),
        "reload_unchanged": _pass(pg, same, batch, "bench-2"),
        "update_all": _pass(pg, newer, batch, "bench-3"),
        "plain_copy": _plain_copy(
            pg,
            "raw.hubspot_contacts",
            "id, record, _hash, updated_at, archived",
            encode_objects(first).lines,
            batch,
        ),
    }
    del first, same, newer
    stream = events(rows)
    result["event_bytes"] = len(json.dumps(stream[0], separators=(",", ":")))
    result["events_insert"] = _pass(pg, stream, batch, "bench-4", events=True)
    result["events_reload"] = _pass(pg, stream, batch, "bench-5", events=True)
    result["events_plain_copy"] = _plain_copy(
        pg,
        "raw.hubspot_events",
        "id, event_type, object_type, object_id, occurred_at, record",
        encode_events(stream).lines,
        batch,
    )
    # what the loader reaches of a bare COPY of the same rows (which excludes Python's encoding)
    for prefix in ("", "events_"):
        result[f"{prefix}insert_vs_plain_copy"] = round(
            result[f"{prefix}insert"]["rows_per_s"] / result[f"{prefix}plain_copy"]["rows_per_s"], 2
        )
    result["meets_target"] = all(
        result[k]["rows_per_s"] >= TARGET_ROWS_PER_S
        for k in ("insert", "reload_unchanged", "update_all", "events_insert", "events_reload")
    )
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=BATCH_ROWS)
    parser.add_argument("--dsn", help="an existing Postgres (a fresh database is created in it)")
    parser.add_argument("--narrow", action="store_true", help="HubSpot's default properties only")
    args = parser.parse_args(argv)
    if args.dsn:
        info = psycopg.conninfo.conninfo_to_dict(args.dsn)
        server = PostgresSettings(
            host=str(info.get("host", "localhost")),
            port=int(info.get("port", 5432)),
            user=str(info.get("user", "postgres")),
            password=str(info.get("password", "")),
            dbname=str(info.get("dbname", "postgres")),
        )
        print(json.dumps(_in_fresh_db(server, args.rows, args.batch, args.narrow), indent=2))
        return
    from leadflow.local import start_embedded_postgres, stop_embedded_postgres

    data_dir = Path(tempfile.mkdtemp(prefix="leadflow-bench-")) / "pgdata"
    server = start_embedded_postgres(data_dir, dbname="postgres")
    try:
        print(json.dumps(_in_fresh_db(server, args.rows, args.batch, args.narrow), indent=2))
    finally:
        stop_embedded_postgres(data_dir)


def _in_fresh_db(server: PostgresSettings, rows: int, batch: int, narrow: bool) -> dict[str, Any]:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(**server.conninfo(), autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    try:
        pg = PostgresSettings(server.host, server.port, server.user, server.password, name)
        return run(pg, rows, batch, narrow)
    finally:
        with psycopg.connect(**server.conninfo(), autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


if __name__ == "__main__":
    main()
