"""Incremental extract of one HubSpot stream into `raw`, idempotent on the data interval.

Each stream reads the window [min(cursor, interval start) - lookback, interval end): a re-run or
a backfill of any past interval re-reads exactly that interval, and the small lookback absorbs
HubSpot's search-index lag. Batches are committed as they arrive (upserts make repeats
harmless); the cursor moves only after the whole window has been loaded.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

import psycopg

from leadflow.config import HubSpotSettings, PostgresSettings
from leadflow.db import connect, open_connection
from leadflow.hubspot import HubSpotClient
from leadflow.load import LoadStats, load_events, load_objects, replace_associations

log = logging.getLogger(__name__)

CRM_STREAMS = ("contacts", "companies", "deals")
STREAMS = (*CRM_STREAMS, "owners", "events")
BATCH_ROWS = 5000
LOOKBACK = timedelta(minutes=10)
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)

# Associations each CRM stream refreshes for its changed objects.
ASSOCIATIONS = {"contacts": ("companies",), "deals": ("contacts", "companies")}


def _batches(items: Iterable[Any], size: int = BATCH_ROWS) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def read_cursor(conn: psycopg.Connection, stream: str) -> datetime | None:
    row = conn.execute(
        "select cursor_at from leadflow.stream_state where stream = %s", (stream,)
    ).fetchone()
    return row[0] if row else None


def window_for(
    cursor: datetime | None, start: datetime, end: datetime
) -> tuple[datetime, datetime]:
    if cursor is None:
        return EPOCH, end
    return min(cursor, start) - LOOKBACK, end


def extract_stream(
    stream: str,
    pg: PostgresSettings,
    hs: HubSpotSettings,
    interval_start: datetime,
    interval_end: datetime,
    load_id: str,
) -> dict[str, Any]:
    """Extract and load one stream for one data interval; returns counts (no PII)."""
    if stream not in STREAMS:
        raise ValueError(f"unknown stream {stream!r}; expected one of {STREAMS}")
    with connect(pg) as conn:
        cursor = read_cursor(conn, stream)
    start, end = window_for(cursor, interval_start, interval_end)
    stats = LoadStats()
    with HubSpotClient(hs) as client, open_connection(pg) as conn:
        for batch in _batches(_records(client, stream, start, end)):
            with conn.transaction():
                if stream == "events":
                    stats.add(load_events(conn, batch, load_id))
                else:
                    stats.add(load_objects(conn, stream, batch, load_id))
                    _refresh_associations(conn, client, stream, batch, load_id)
        with conn.transaction():
            conn.execute(
                """
                insert into leadflow.stream_state (stream, cursor_at) values (%s, %s)
                on conflict (stream) do update
                    set cursor_at = greatest(stream_state.cursor_at, excluded.cursor_at),
                        updated_at = now()
                """,
                (stream, interval_end),
            )
        requests = client.requests_sent
    result = {
        "stream": stream,
        **asdict(stats),
        "requests": requests,
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
    }
    log.info("extracted %s", result)
    return result


def _records(
    client: HubSpotClient, stream: str, start: datetime, end: datetime
) -> Iterator[dict[str, Any]]:
    if stream == "events":
        return client.events(start, end)
    if stream == "owners":
        # Owners are few and have no search endpoint: read them all every run.
        return client.owners()
    properties = [p["name"] for p in client.properties(stream)]
    return client.search_modified(stream, properties, start, end)


def _refresh_associations(
    conn: psycopg.Connection,
    client: HubSpotClient,
    stream: str,
    batch: list[dict[str, Any]],
    load_id: str,
) -> None:
    ids = sorted({int(r["id"]) for r in batch if str(r.get("id", "")).isdigit()})
    for to_type in ASSOCIATIONS.get(stream, ()):
        links = client.associations(stream, to_type, ids)
        replace_associations(conn, stream, to_type, ids, links, load_id)
