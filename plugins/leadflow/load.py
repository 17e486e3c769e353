"""Bulk loads into the `raw` schema: COPY into a temp table, then one set-based upsert.

Each batch is checked record by record first; a record that cannot be loaded goes to
`leadflow.quarantine` with its reason and raw payload instead of failing the run or vanishing.
Upserts only touch rows whose source JSON changed, so re-loading the same data changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from leadflow.hubspot import parse_ts

MAX_RECORD_BYTES = 1_000_000

OBJECT_TABLES = {
    "contacts": "raw.hubspot_contacts",
    "companies": "raw.hubspot_companies",
    "deals": "raw.hubspot_deals",
    "owners": "raw.hubspot_owners",
}


@dataclass
class LoadStats:
    received: int = 0
    changed: int = 0
    quarantined: int = 0

    def add(self, other: LoadStats) -> None:
        self.received += other.received
        self.changed += other.changed
        self.quarantined += other.quarantined


class BadRecord(ValueError):
    """Why one record cannot be loaded."""


def _record_id(record: dict[str, Any]) -> int:
    try:
        value = int(str(record["id"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise BadRecord(f"malformed id {record.get('id')!r}") from exc
    if value <= 0:
        raise BadRecord(f"malformed id {record.get('id')!r}")
    return value


def _timestamp(record: dict[str, Any], key: str) -> datetime:
    try:
        ts = parse_ts(str(record[key]))
    except (KeyError, TypeError, ValueError) as exc:
        raise BadRecord(f"invalid timestamp in {key}: {record.get(key)!r}") from exc
    if ts.tzinfo is None:
        raise BadRecord(f"timestamp without time zone in {key}: {record.get(key)!r}")
    return ts


def _payload(record: Any) -> str:
    try:
        text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise BadRecord(f"not JSON-serialisable: {exc}") from exc
    if "\\u0000" in text:
        raise BadRecord("invalid JSON for Postgres: contains a NUL character")
    if len(text.encode()) > MAX_RECORD_BYTES:
        raise BadRecord(f"oversized record: {len(text.encode())} bytes > {MAX_RECORD_BYTES}")
    return text


def _object_row(record: Any) -> tuple[int, str, datetime, bool]:
    if not isinstance(record, dict):
        raise BadRecord(f"record is {type(record).__name__}, not a JSON object")
    properties = record.get("properties", {})
    if not isinstance(properties, dict):
        raise BadRecord("properties is not a JSON object")
    return (
        _record_id(record),
        _payload(record),
        _timestamp(record, "updatedAt"),
        bool(record.get("archived", False)),
    )


def _event_row(record: Any) -> tuple[str, str, str, int, datetime, str]:
    if not isinstance(record, dict) or not record.get("id"):
        raise BadRecord("event without an id")
    try:
        object_id = int(str(record["objectId"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise BadRecord(f"malformed objectId {record.get('objectId')!r}") from exc
    event_type = record.get("eventType")
    if not isinstance(event_type, str) or not event_type:
        raise BadRecord("event without an eventType")
    return (
        str(record["id"]),
        event_type,
        str(record.get("objectType", "")).lower(),
        object_id,
        _timestamp(record, "occurredAt"),
        _payload(record),
    )


def _split(records: Iterable[Any], to_row: Any) -> tuple[list[tuple], list[tuple[str, str, str]]]:
    rows, bad = [], []
    for record in records:
        try:
            rows.append(to_row(record))
        except BadRecord as exc:
            record_id = record.get("id") if isinstance(record, dict) else None
            bad.append((str(record_id) if record_id is not None else None, str(exc), _raw(record)))
    return rows, bad


def _raw(record: Any) -> str:
    try:
        return json.dumps(record, default=str)
    except (TypeError, ValueError):
        return repr(record)


def quarantine(
    conn: psycopg.Connection, stream: str, load_id: str, bad: Sequence[tuple[Any, str, str]]
) -> int:
    if not bad:
        return 0
    with conn.cursor() as cur:
        cur.executemany(
            "insert into leadflow.quarantine (stream, load_id, record_id, reason, payload)"
            " values (%s, %s, %s, %s, %s) on conflict do nothing",
            [
                (stream, load_id, rid, reason, payload.replace("\x00", "\\0"))
                for rid, reason, payload in bad
            ],
        )
    return len(bad)


def load_objects(
    conn: psycopg.Connection, stream: str, records: Sequence[Any], load_id: str
) -> LoadStats:
    """Upsert CRM objects into raw.hubspot_<stream>; newer or equal `updatedAt` wins."""
    table = OBJECT_TABLES[stream]
    rows, bad = _split(records, _object_row)
    with conn.cursor() as cur:
        cur.execute(
            "create temp table if not exists _stage_objects"
            " (id bigint, record jsonb, updated_at timestamptz, archived boolean)"
            " on commit delete rows"
        )
        with cur.copy("copy _stage_objects (id, record, updated_at, archived) from stdin") as cp:
            for row in rows:
                cp.write_row(row)
        cur.execute(
            f"""
            insert into {table} as t (id, record, updated_at, archived, _load_id)
            select distinct on (id) id, record, updated_at, archived, %(load_id)s
            from _stage_objects
            order by id, updated_at desc
            on conflict (id) do update
                set record = excluded.record, updated_at = excluded.updated_at,
                    archived = excluded.archived, _load_id = excluded._load_id,
                    _loaded_at = now()
                where t.record is distinct from excluded.record
                  and t.updated_at <= excluded.updated_at
            """,
            {"load_id": load_id},
        )
        changed = cur.rowcount
    return LoadStats(len(records), changed, quarantine(conn, stream, load_id, bad))


def load_events(conn: psycopg.Connection, records: Sequence[Any], load_id: str) -> LoadStats:
    """Insert marketing events; events are immutable, so a known id is skipped."""
    rows, bad = _split(records, _event_row)
    with conn.cursor() as cur:
        cur.execute(
            "create temp table if not exists _stage_events (id text, event_type text,"
            " object_type text, object_id bigint, occurred_at timestamptz, record jsonb)"
            " on commit delete rows"
        )
        with cur.copy(
            "copy _stage_events (id, event_type, object_type, object_id, occurred_at, record)"
            " from stdin"
        ) as cp:
            for row in rows:
                cp.write_row(row)
        cur.execute(
            """
            insert into raw.hubspot_events
                (id, event_type, object_type, object_id, occurred_at, record, _load_id)
            select distinct on (id) id, event_type, object_type, object_id, occurred_at, record,
                %(load_id)s
            from _stage_events
            order by id
            on conflict (id) do nothing
            """,
            {"load_id": load_id},
        )
        changed = cur.rowcount
    return LoadStats(len(records), changed, quarantine(conn, "events", load_id, bad))


def replace_associations(
    conn: psycopg.Connection,
    from_type: str,
    to_type: str,
    from_ids: Sequence[int],
    links: Iterable[tuple[int, int, int]],
    load_id: str,
) -> int:
    """Make raw associations of `from_ids` towards `to_type` exactly `links`, both directions.

    HubSpot does not report removed associations, so the set for each changed object is
    replaced; the reverse rows let models join from either side.
    """
    links = list(links)
    with conn.cursor() as cur:
        cur.execute(
            """
            delete from raw.hubspot_associations
            where (from_type = %(f)s and to_type = %(t)s and from_id = any(%(ids)s))
               or (from_type = %(t)s and to_type = %(f)s and to_id = any(%(ids)s))
            """,
            {"f": from_type, "t": to_type, "ids": list(from_ids)},
        )
        with cur.copy(
            "copy raw.hubspot_associations (from_type, from_id, to_type, to_id, type_id, _load_id)"
            " from stdin"
        ) as cp:
            seen: set[tuple] = set()
            for from_id, to_id, type_id in links:
                for row in (
                    (from_type, from_id, to_type, to_id, type_id),
                    (to_type, to_id, from_type, from_id, _reverse_type(type_id)),
                ):
                    if row not in seen:
                        seen.add(row)
                        cp.write_row((*row, load_id))
    return len(links)


# HubSpot's v4 default association type ids come in pairs (contact→company 1, company→contact 2…).
_REVERSE = {1: 2, 2: 1, 3: 4, 4: 3, 5: 6, 6: 5, 279: 280, 280: 279}


def _reverse_type(type_id: int) -> int:
    return _REVERSE.get(type_id, type_id)
