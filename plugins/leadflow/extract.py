"""Incremental extract of one HubSpot stream into `raw`, idempotent on the data interval.

Each stream reads the window [min(cursor, interval start) - lookback, interval end): a re-run or
a backfill of any past interval re-reads exactly that interval, and the small lookback absorbs
HubSpot's search-index lag. Batches are committed as they arrive (upserts make repeats
harmless, so a killed run re-done gives the same tables); the cursor moves only after the whole
window has been loaded and committed.

What a CRM stream reads for its window:
- live objects modified in it: the search API keyed on (hs_lastmodifieddate, hs_object_id); a
  first full load instead pages the list API (100 per page, no 10,000 cap, not under the
  search API's 4-5 requests/s limit) when the property list fits in a URL;
- objects archived in it (`archived=true`, by `archivedAt`): marked archived in raw, their
  last source JSON kept; contacts merged away are retired through the survivor's
  `hs_merged_object_ids` (raw.hubspot_contact_merges);
- the associations of every changed object, replaced in both directions.
The events stream reads wider: late-recorded events and implausible dates (event_windows).
Properties come from the Properties API on every run, so a new CRM property lands in `raw` with
no code change. Pages are fetched in a background thread while the previous batch is loaded,
and every client on one token shares one request budget.

Why by hand and not dlt: see docs/adr/0001-extract-by-hand-or-dlt.md.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from itertools import chain, islice
from typing import Any

import psycopg

from leadflow.config import HubSpotSettings, PostgresSettings
from leadflow.db import connect
from leadflow.hubspot import HubSpotClient, parse_ts
from leadflow.load import (
    EVENTS_FUTURE_SLACK,
    EVENTS_SINCE,
    CatalogChanges,
    Encoded,
    LoadStats,
    encode_events,
    encode_objects,
    load_concurrently,
    load_events,
    load_objects,
    merged_ids,
    record_merges,
    register_load,
    replace_associations,
    replace_catalog,
    retire_objects,
)

log = logging.getLogger(__name__)

CRM_STREAMS = ("contacts", "companies", "deals")
STREAMS = (*CRM_STREAMS, "owners", "events")
BATCH_ROWS = 5000
LOOKBACK = timedelta(minutes=10)
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
# A window of occurredAt; None leaves that side open.
Window = tuple[datetime | None, datetime | None]
# Longest comma-joined property list sent in a GET query string; longer lists make HubSpot
# answer 414, so such portals do their first load through search (POST body) instead.
MAX_URL_PROPERTIES = 2000
PREFETCH_BATCHES = 2
PREFETCH_SWITCH_INTERVAL_S = 0.0002

# Associations each CRM stream refreshes for its changed objects.
ASSOCIATIONS = {"contacts": ("companies",), "deals": ("contacts", "companies")}
# Properties every stream needs whatever the Properties API says.
REQUIRED_PROPERTIES = {
    "contacts": ("hs_lastmodifieddate", "hs_object_id", "hs_merged_object_ids"),
    "companies": ("hs_lastmodifieddate", "hs_object_id"),
    "deals": ("hs_lastmodifieddate", "hs_object_id"),
}


@dataclass
class Tagged:
    """A record and how it was read: live (upsert) or archived (retire)."""

    record: Any
    archived: bool = False


def _batches(items: Iterable[Any], size: int | None = None) -> Iterator[list[Any]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size or BATCH_ROWS)):
        yield batch


def prefetched(batches: Iterator[Any], depth: int = PREFETCH_BATCHES) -> Iterator[Any]:
    """Fetch (and encode) the next batches in a thread while the caller loads the current one.

    HTTP waits, Python's encoding and Postgres's writing overlap instead of adding up; an error
    in the fetcher is re-raised in the caller, and a caller that stops early stops the fetcher.
    While the fetcher encodes it holds the GIL; the loading thread needs it only for a moment
    after each Postgres round trip, so the switch interval is shortened from 5 ms for the
    duration (200k events: 1.7 s at 5 ms, 1.3 s at 0.2 ms; bench/load_bench.py).
    """
    slots: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def fetch() -> None:
        try:
            for batch in batches:
                if not offer(("batch", batch)):
                    return
            offer(("done", None))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            offer(("error", exc))

    worker = threading.Thread(target=fetch, name="hubspot-prefetch", daemon=True)
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(PREFETCH_SWITCH_INTERVAL_S)
    worker.start()
    try:
        while True:
            kind, value = slots.get()
            if kind == "batch":
                yield value
            elif kind == "error":
                raise value
            else:
                return
    finally:
        stop.set()
        worker.join(timeout=30)
        sys.setswitchinterval(switch_interval)


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


def event_windows(
    cursor: datetime | None, start: datetime, end: datetime, hs: HubSpotSettings
) -> list[Window]:
    """The occurredAt windows the events stream reads for the interval [start, end).

    HubSpot lists events by occurrence time only, so one it records late lies behind the
    cursor. Each run reads back `events_lookback_minutes` before the cursor and one hour at
    each of `events_rescan_hours` lags; known ids are skipped by the loader. Two open-ended
    windows find events whose dates are implausible (before EVENTS_SINCE, or well after the
    interval): they are quarantined with the reason (once each), not lost. A first load
    reads everything up to the interval's end.
    """
    # occurredAfter is inclusive and HubSpot's times have milliseconds: strictly after the slack.
    future: Window = (end + EVENTS_FUTURE_SLACK + timedelta(milliseconds=1), None)
    if cursor is None:
        return [(None, end), future]
    low = min(cursor, start) - timedelta(minutes=hs.events_lookback_minutes)
    windows: list[Window] = [(low, end)]
    for hours in sorted(set(hs.events_rescan_hours)):
        lag = timedelta(hours=hours)
        slice_start, slice_end = start - lag, min(end - lag, low)
        if slice_start < slice_end:
            windows.append((slice_start, slice_end))
    return [*windows, (None, EVENTS_SINCE), future]


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
        register_load(conn, load_id)
        cursor = read_cursor(conn, stream)
    start, end = window_for(cursor, interval_start, interval_end)
    stats = LoadStats()
    counts = {"archived": 0, "merged": 0}
    schema = CatalogChanges()
    with HubSpotClient(hs) as client:
        if stream == "events":
            windows = event_windows(cursor, interval_start, interval_end, hs)
            records, mode = chain.from_iterable(client.events(*w) for w in windows), "events"
            start = windows[0][0] or EPOCH
        elif stream == "owners":
            # Owners are few and have no search endpoint: read them all every run.
            owners = chain(client.owners(), client.owners(archived=True))
            records, mode = (Tagged(o) for o in owners), "list"
        else:
            definitions = client.properties(stream)
            with connect(pg) as conn:
                schema = replace_catalog(conn, stream, definitions, load_id)
            discovered = [d["name"] for d in definitions]
            records, mode = _records(client, stream, discovered, start, end, cursor is None)
        latest = interval_end + EVENTS_FUTURE_SLACK
        loaded = load_concurrently(
            pg,
            prefetched(_encoded(stream, _batches(records), latest)),
            lambda conn, item: _load_batch(conn, client, stream, *item, load_id),
        )
        for batch_stats, batch_counts in loaded:
            stats.add(batch_stats)
            for key, value in batch_counts.items():
                counts[key] += value
        with connect(pg) as conn:
            conn.execute(
                """
                insert into leadflow.stream_state (stream, cursor_at) values (%s, %s)
                on conflict (stream) do update
                    set cursor_at = greatest(stream_state.cursor_at, excluded.cursor_at),
                        updated_at = now()
                """,
                (stream, interval_end),
            )
        network = {
            "requests": client.requests_sent,
            "throttled": client.throttled,
            "retried": client.retried,
        }
    result = {
        "stream": stream,
        **asdict(stats),
        **counts,
        **network,
        "mode": mode,
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        "schema_changes": asdict(schema),
    }
    if stats.quarantined:
        log.warning(
            "%s: %d record(s) could not be loaded and are in leadflow.quarantine (load %s)",
            stream,
            stats.quarantined,
            load_id,
        )
    log.info("extracted %s", result)
    return result


def _encoded(
    stream: str, batches: Iterator[list[Any]], latest_event: datetime
) -> Iterator[tuple[list[Any], Encoded]]:
    """Each batch with its records checked and encoded for COPY.

    This runs in the prefetch thread, so Python's encoding of the next batch overlaps
    Postgres writing the current one (bench/load_bench.py).
    """
    for batch in batches:
        if stream == "events":
            yield batch, encode_events(batch, latest_event)
        else:
            yield batch, encode_objects([t.record for t in batch if not t.archived])


def _load_batch(
    conn: psycopg.Connection,
    client: HubSpotClient,
    stream: str,
    batch: list[Any],
    encoded: Encoded,
    load_id: str,
) -> tuple[LoadStats, dict[str, int]]:
    """One transaction: objects, retirements, merges and associations of one batch; its counts
    are returned, not added up here, because a batch that collides with another is re-run."""
    if stream == "events":
        return load_events(conn, encoded, load_id), {}
    live = [t.record for t in batch if not t.archived]
    gone = [t.record for t in batch if t.archived]
    stats = load_objects(conn, stream, encoded, load_id)
    counts: dict[str, int] = {}
    if gone:
        retired = retire_objects(conn, stream, gone, load_id)
        stats.add(retired)
        counts["archived"] = retired.received - retired.quarantined
    if stream == "contacts":
        counts["merged"] = record_merges(
            conn, (pair for r in live for pair in merged_ids(r)), load_id
        )
    if stream in ASSOCIATIONS:
        _refresh_associations(conn, client, stream, live, _ids(gone), load_id)
    return stats, counts


def _records(
    client: HubSpotClient,
    stream: str,
    discovered: list[str],
    start: datetime,
    end: datetime,
    full: bool,
) -> tuple[Iterator[Any], str]:
    """A CRM stream's live and archived records of the window, and how they are read."""
    props = sorted({*discovered, *REQUIRED_PROPERTIES[stream]})
    fits_url = len(",".join(props)) <= MAX_URL_PROPERTIES
    if full and fits_url:
        live = (r for r in client.list_objects(stream, props) if start <= _modified(r) < end)
        mode = "list"
    else:
        live = client.search_modified(stream, props, start, end)
        mode = "search"
    archived_props = props if fits_url else list(REQUIRED_PROPERTIES[stream])
    archived = (
        r
        for r in client.list_objects(stream, archived_props, archived=True)
        if start <= _archived_at(r) < end
    )
    return chain((Tagged(r) for r in live), (Tagged(r, True) for r in archived)), mode


def _modified(record: dict[str, Any]) -> datetime:
    """When a record last changed; unparseable ones sort into every window (quarantine)."""
    if not isinstance(record, dict):
        return EPOCH
    props = record.get("properties")
    value = (props if isinstance(props, dict) else {}).get("hs_lastmodifieddate")
    try:
        return parse_ts(str(value or record.get("updatedAt")))
    except ValueError:
        return EPOCH


def _archived_at(record: dict[str, Any]) -> datetime:
    if not isinstance(record, dict):
        return EPOCH
    try:
        return parse_ts(str(record.get("archivedAt") or record.get("updatedAt")))
    except ValueError:
        return EPOCH


def _ids(records: Iterable[Any]) -> list[int]:
    return sorted(
        {int(r["id"]) for r in records if isinstance(r, dict) and str(r.get("id", "")).isdigit()}
    )


def _refresh_associations(
    conn: psycopg.Connection,
    client: HubSpotClient,
    stream: str,
    live: list[Any],
    archived_ids: list[int],
    load_id: str,
) -> None:
    """Replace the links of changed objects; archived objects keep none."""
    ids = _ids(live)
    for to_type in ASSOCIATIONS[stream]:
        links = client.associations(stream, to_type, ids) if ids else iter(())
        replace_associations(conn, stream, to_type, ids, links, load_id)
        if archived_ids:
            replace_associations(conn, stream, to_type, archived_ids, (), load_id)
