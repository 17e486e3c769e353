"""Bulk loads into the `raw` schema: COPY into a temp table, then one set-based upsert.

Each batch is checked record by record first; a record that cannot be loaded goes to
`leadflow.quarantine` with its reason and raw payload instead of failing the run or vanishing.

Speed (bench/load_bench.py): records are encoded once with msgspec into ready-made COPY text
lines (no per-value adaptation) by `encode_objects` / `encode_events`, which need no connection,
so the extractor runs them in its prefetch thread while Postgres writes the previous batch. Lines
are staged as text, and only rows whose content hash differs from raw are parsed into jsonb, so
the hourly re-read of a lookback window costs little. Upserts only touch rows whose source JSON
changed, so re-loading the same data changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import queue
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import msgspec
import psycopg

from leadflow.config import PostgresSettings
from leadflow.db import open_connection

MAX_RECORD_BYTES = 1_000_000
MAX_BIGINT = 2**63 - 1
# Plausible event times: not before this, not more than the slack after the interval's end.
EVENTS_SINCE = datetime(2000, 1, 1, tzinfo=UTC)
EVENTS_FUTURE_SLACK = timedelta(hours=1)

# Batches written at once, and how often a batch that collided with another is tried.
LOAD_CONNECTIONS = 2
BATCH_ATTEMPTS = 3
_BATCH_COLLISIONS = (
    psycopg.errors.DeadlockDetected,
    psycopg.errors.SerializationFailure,
    psycopg.errors.UniqueViolation,
)
B = TypeVar("B")
R = TypeVar("R")

OBJECT_TABLES = {
    "contacts": "raw.hubspot_contacts",
    "companies": "raw.hubspot_companies",
    "deals": "raw.hubspot_deals",
    "owners": "raw.hubspot_owners",
}

_encode = msgspec.json.Encoder().encode


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


@dataclass(frozen=True)
class Encoded:
    """A batch checked and encoded as COPY lines; the records that failed, with why, aside."""

    received: int
    lines: list[bytes]
    bad: list[tuple[str | None, str, str]]


@contextmanager
def _batch_transaction(conn: psycopg.Connection) -> Iterator[None]:
    """One batch's transaction, committed without waiting for its WAL flush.

    Safe for loads: WAL replays in order, so a crash loses only a suffix of commits, and a
    stream's cursor is committed (and flushed) after all its batches. A lost batch therefore
    comes with a cursor that never moved, and the next run reads it again.
    """
    with conn.transaction():
        conn.execute("set local synchronous_commit = off")
        yield


def load_concurrently(
    pg: PostgresSettings,
    batches: Iterable[B],
    write: Callable[[psycopg.Connection, B], R],
    connections: int = LOAD_CONNECTIONS,
) -> list[R]:
    """`write` each batch in its own transaction (_batch_transaction), on `connections` at once.

    With one connection Postgres idles while the next batch is handed over and COPYed; with two
    it writes one batch while it parses the other (bench/load_bench.py on 2 cores, first loads:
    events 120-137k -> 110-158k rows/s, contacts 43-61k -> 64-88k). Batches commit in any order,
    which loses nothing: a stream's cursor moves only after this returns. A record read twice can
    put two running batches in each other's way (a deadlock, or a key the other just inserted);
    that batch is retried once the other has committed. The first error stops new batches and is
    raised when the running ones are done. Returns what `write` returned, in batch order.
    """
    idle: queue.SimpleQueue[psycopg.Connection] = queue.SimpleQueue()
    opened: list[psycopg.Connection] = []

    def run(batch: B) -> R:
        conn = idle.get()
        try:
            attempt = 1
            while True:
                try:
                    with _batch_transaction(conn):
                        return write(conn, batch)
                except _BATCH_COLLISIONS:
                    if attempt == BATCH_ATTEMPTS:
                        raise
                    attempt += 1
        finally:
            idle.put(conn)

    results: list[R] = []
    try:
        for _ in range(connections):
            opened.append(open_connection(pg))
            idle.put(opened[-1])
        with ThreadPoolExecutor(connections, thread_name_prefix="leadflow-load") as pool:
            running: deque[Future[R]] = deque()
            try:
                for batch in batches:
                    if len(running) == connections:
                        results.append(running.popleft().result())
                    running.append(pool.submit(run, batch))
                while running:
                    results.append(running.popleft().result())
            finally:
                for future in running:
                    future.cancel()
    finally:
        for conn in opened:
            conn.close()
    return results


def register_load(conn: psycopg.Connection, load_id: str) -> None:
    """Note when `load_id` first writes (see leadflow.loads); commit before its first batch."""
    conn.execute(
        "insert into leadflow.loads (load_id) values (%s) on conflict do nothing", (load_id,)
    )


def _bigint(value: Any, what: str) -> int:
    try:
        number = int(str(value))
    except (TypeError, ValueError) as exc:
        raise BadRecord(f"malformed {what} {value!r}") from exc
    if not 0 < number <= MAX_BIGINT:
        raise BadRecord(f"malformed {what} {value!r}")
    return number


def _timestamp(record: dict[str, Any], key: str) -> datetime:
    value = record.get(key)
    try:
        ts = datetime.fromisoformat(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise BadRecord(f"invalid timestamp in {key}: {value!r}") from exc
    if ts.tzinfo is None:
        raise BadRecord(f"timestamp without time zone in {key}: {value!r}")
    return ts


def _payload(record: Any) -> bytes:
    """The record as compact UTF-8 JSON, or why Postgres could not store it."""
    try:
        data = _encode(record)
    except (TypeError, ValueError, OverflowError) as exc:
        raise BadRecord(f"not JSON-serialisable: {exc}") from exc
    if b"\\u0000" in data and _has_nul(record):
        raise BadRecord("invalid JSON for Postgres: contains a NUL character")
    if len(data) > MAX_RECORD_BYTES:
        raise BadRecord(f"oversized record: {len(data)} bytes > {MAX_RECORD_BYTES}")
    return data


def _has_nul(value: Any) -> bool:
    """Postgres text and jsonb cannot hold U+0000 (checked only when the encoding hints at it)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _copy_text(value: str) -> bytes:
    if "\x00" in value:
        raise BadRecord(f"NUL character in {value!r}")
    return (
        value.replace("\\", "\\\\")
        .replace("\t", "\\t")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .encode()
    )


def _object_line(record: Any) -> bytes:
    """One COPY line `id, record, hash, updated_at, archived` or BadRecord."""
    if not isinstance(record, dict):
        raise BadRecord(f"record is {type(record).__name__}, not a JSON object")
    if "id" not in record:
        raise BadRecord("record without an id")
    object_id = _bigint(record["id"], "id")
    if not isinstance(record.get("properties", {}), dict):
        raise BadRecord("properties is not a JSON object")
    updated = _timestamp(record, "updatedAt")
    data = _payload(record)
    archived = record.get("archived") is True or bool(record.get("archivedAt"))
    return b"%d\t%s\t%s\t%s\t%s\n" % (
        object_id,
        data.replace(b"\\", b"\\\\"),
        hashlib.blake2b(data, digest_size=16).hexdigest().encode(),
        updated.isoformat().encode(),
        b"t" if archived else b"f",
    )


def _event_line(record: Any, latest: datetime | None = None) -> bytes:
    """One COPY line of an event, or BadRecord; `latest` is the last plausible occurredAt."""
    if not isinstance(record, dict) or not record.get("id"):
        raise BadRecord("event without an id")
    object_id = _bigint(record.get("objectId"), "objectId")
    event_type = record.get("eventType")
    if not isinstance(event_type, str) or not event_type:
        raise BadRecord("event without an eventType")
    occurred = _timestamp(record, "occurredAt")
    if occurred < EVENTS_SINCE:
        raise BadRecord(
            f"implausible occurredAt {record['occurredAt']}: before {EVENTS_SINCE:%Y-%m-%d}"
        )
    if latest is not None and occurred > latest:
        raise BadRecord(
            f"occurredAt {record['occurredAt']} is in the future: more than "
            f"{EVENTS_FUTURE_SLACK} after the end of the interval that read it"
        )
    data = _payload(record)
    return b"%s\t%s\t%s\t%d\t%s\t%s\n" % (
        _copy_text(str(record["id"])),
        _copy_text(event_type),
        _copy_text(str(record.get("objectType", "")).lower()),
        object_id,
        occurred.isoformat().encode(),
        data.replace(b"\\", b"\\\\"),
    )


def _encode_all(records: Sequence[Any], to_line: Callable[[Any], bytes]) -> Encoded:
    lines, bad = [], []
    for record in records:
        try:
            lines.append(to_line(record))
        except BadRecord as exc:
            record_id = record.get("id") if isinstance(record, dict) else None
            bad.append((str(record_id) if record_id is not None else None, str(exc), _raw(record)))
    return Encoded(len(records), lines, bad)


def encode_objects(records: Sequence[Any]) -> Encoded:
    return _encode_all(records, _object_line)


def encode_events(records: Sequence[Any], latest: datetime | None = None) -> Encoded:
    """Events are immutable, so a repeat of an event id within the batch is kept once.

    Events dated before EVENTS_SINCE or after `latest` (the reading interval's end plus
    EVENTS_FUTURE_SLACK) are implausible: they are quarantined with the reason.
    """
    encoded = _encode_all(records, lambda record: _event_line(record, latest))
    seen: set[bytes] = set()
    unique = []
    for line in encoded.lines:
        event_id = line.split(b"\t", 1)[0]
        if event_id not in seen:
            seen.add(event_id)
            unique.append(line)
    return Encoded(encoded.received, unique, encoded.bad)


def _raw(record: Any) -> str:
    try:
        return json.dumps(record, default=str)
    except (TypeError, ValueError):
        return repr(record)


def quarantine(
    conn: psycopg.Connection,
    stream: str,
    load_id: str,
    bad: Sequence[tuple[Any, str, str]],
    once_per_id: bool = False,
) -> int:
    """Keep what could not be loaded, with why; repeats of one load are stored once.

    `once_per_id` is for immutable records (events) that every run reads again: an id already
    in quarantine is not stored (or counted) a second time.
    """
    if bad and once_per_id:
        ids = [rid for rid, _, _ in bad if rid is not None]
        known = {
            row[0]
            for row in conn.execute(
                "select record_id from leadflow.quarantine"
                " where stream = %s and record_id = any(%s)",
                (stream, ids),
            )
        }
        bad = [b for b in bad if b[0] is None or b[0] not in known]
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


def _stage_lines(cur: psycopg.Cursor, lines: list[bytes]) -> None:
    """COPY pre-encoded object lines into a staging table holding exactly these lines.

    One batch's transaction stages twice (its live records, then its archived ones), so the
    table is emptied first: rows left from the live step would otherwise be retired too.
    """
    cur.execute(
        "create temp table if not exists _stage_objects (id bigint, record text,"
        " hash uuid, updated_at timestamptz, archived boolean) on commit delete rows"
    )
    cur.execute("delete from _stage_objects")
    with cur.copy("copy _stage_objects (id, record, hash, updated_at, archived) from stdin") as cp:
        cp.write(b"".join(lines))


def load_objects(
    conn: psycopg.Connection, stream: str, records: Sequence[Any] | Encoded, load_id: str
) -> LoadStats:
    """Upsert CRM objects into raw.hubspot_<stream>; newer `updatedAt` wins, archived wins ties.

    Only rows whose hash differs from raw are cast to jsonb and written. The staged batch meets
    raw through `lateral (... limit 1)`, which the planner cannot turn into a hash join: the temp
    table has no statistics, and a hash join would read all of raw for every batch instead of
    probing its primary key once per staged row.
    """
    table = OBJECT_TABLES[stream]
    batch = records if isinstance(records, Encoded) else encode_objects(records)
    with conn.cursor() as cur:
        _stage_lines(cur, batch.lines)
        cur.execute(
            f"""
            insert into {table} as t (id, record, updated_at, archived, _hash, _load_id)
            select distinct on (s.id)
                s.id, s.record::jsonb, s.updated_at, s.archived, s.hash, %(load_id)s
            from _stage_objects as s
            left join lateral (
                select known._hash from {table} as known where known.id = s.id limit 1
            ) as cur on true
            where cur._hash is distinct from s.hash
            order by s.id, s.updated_at desc, s.archived desc
            on conflict (id) do update
                set record = excluded.record, updated_at = excluded.updated_at,
                    archived = excluded.archived, _hash = excluded._hash,
                    _load_id = excluded._load_id, _loaded_at = now()
                where (t.updated_at, t.archived) <= (excluded.updated_at, excluded.archived)
            """,
            {"load_id": load_id},
        )
        changed = cur.rowcount
    return LoadStats(batch.received, changed, quarantine(conn, stream, load_id, batch.bad))


_INSERT_EVENTS = """
    insert into raw.hubspot_events
        (id, event_type, object_type, object_id, occurred_at, record, _load_id)
    select s.id, s.event_type, s.object_type, s.object_id, s.occurred_at,
        s.record::jsonb, %(load_id)s
    from _stage_events as s
    left join lateral (
        select true as hit from raw.hubspot_events as known where known.id = s.id limit 1
    ) as known on true
    where known.hit is null
"""


def load_events(
    conn: psycopg.Connection, records: Sequence[Any] | Encoded, load_id: str
) -> LoadStats:
    """Insert marketing events; events are immutable, so a known id is skipped.

    A plain insert of the unknown ids is a quarter cheaper than `on conflict do nothing`
    (200k events: 0.78 s vs 1.06 s). Only a concurrent load of the same events can still
    collide; that batch is then redone with `on conflict do nothing` under a savepoint.
    """
    batch = records if isinstance(records, Encoded) else encode_events(records)
    with conn.cursor() as cur:
        cur.execute(
            "create temp table if not exists _stage_events (id text, event_type text,"
            " object_type text, object_id bigint, occurred_at timestamptz, record text)"
            " on commit delete rows"
        )
        with cur.copy(
            "copy _stage_events (id, event_type, object_type, object_id, occurred_at, record)"
            " from stdin"
        ) as cp:
            cp.write(b"".join(batch.lines))
        try:
            with conn.transaction():
                cur.execute(_INSERT_EVENTS, {"load_id": load_id})
        except psycopg.errors.UniqueViolation:
            cur.execute(_INSERT_EVENTS + " on conflict (id) do nothing", {"load_id": load_id})
        changed = cur.rowcount
    return LoadStats(
        batch.received, changed, quarantine(conn, "events", load_id, batch.bad, once_per_id=True)
    )


def retire_objects(
    conn: psycopg.Connection, stream: str, records: Sequence[Any], load_id: str
) -> LoadStats:
    """Mark objects HubSpot lists as archived; the last full source JSON stays in raw.

    The archived listing may carry fewer properties than the live read (URL limits), so a
    known row keeps its record and only gains `archived`/`archivedAt`; an object never seen
    live is stored as the archived listing returned it.
    """
    table = OBJECT_TABLES[stream]
    archived = [{**r, "archived": True} if isinstance(r, dict) else r for r in records]
    batch = encode_objects(archived)
    with conn.cursor() as cur:
        _stage_lines(cur, batch.lines)
        cur.execute(
            f"""
            insert into {table} as t (id, record, updated_at, archived, _hash, _load_id)
            select distinct on (s.id) s.id, s.record::jsonb, s.updated_at, true, null,
                %(load_id)s
            from _stage_objects as s
            order by s.id, s.updated_at desc
            on conflict (id) do update
                set record = t.record || jsonb_build_object(
                        'archived', true, 'archivedAt', excluded.record -> 'archivedAt'),
                    updated_at = greatest(t.updated_at, excluded.updated_at),
                    archived = true, _hash = null,
                    _load_id = excluded._load_id, _loaded_at = now()
                where not t.archived
                   or t.record -> 'archivedAt' is distinct from excluded.record -> 'archivedAt'
            """,
            {"load_id": load_id},
        )
        changed = cur.rowcount
    return LoadStats(batch.received, changed, quarantine(conn, stream, load_id, batch.bad))


@dataclass(frozen=True)
class CatalogChanges:
    """How a stream's property list changed in one load: added, removed, type changed."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    retyped: tuple[tuple[str, str, str], ...] = ()  # (name, old type, new type)


def replace_catalog(
    conn: psycopg.Connection, stream: str, definitions: Sequence[Any], load_id: str
) -> CatalogChanges:
    """Make raw.hubspot_properties the CRM's property list of `stream`, log how it differs
    from the last one (leadflow.source_schema_changes), and return what this load logged, so
    a retried task reports the changes its first attempt found. The first list logs nothing.
    """
    known = dict(
        conn.execute(
            "select name, type from raw.hubspot_properties where object_type = %s", (stream,)
        ).fetchall()
    )
    listed = {str(d["name"]): d for d in definitions if isinstance(d, dict) and d.get("name")}
    types = {name: str(d.get("type") or "") for name, d in listed.items()}
    logged = []
    if known:
        logged += [("added", n, None, types[n]) for n in sorted(types.keys() - known.keys())]
        logged += [("removed", n, known[n], None) for n in sorted(known.keys() - types.keys())]
        logged += [
            ("retyped", n, known[n], types[n])
            for n in sorted(known.keys() & types.keys())
            if known[n] != types[n]
        ]
    with conn.cursor() as cur:
        cur.execute("delete from raw.hubspot_properties where object_type = %s", (stream,))
        with cur.copy(
            "copy raw.hubspot_properties (object_type, name, type, record, _load_id) from stdin"
        ) as cp:
            for name, definition in sorted(listed.items()):
                cp.write_row((stream, name, types[name], _encode(definition).decode(), load_id))
        cur.executemany(
            "insert into leadflow.source_schema_changes"
            " (stream, change, name, old_type, new_type, load_id) values (%s, %s, %s, %s, %s, %s)",
            [(stream, *row, load_id) for row in logged],
        )
        rows = cur.execute(
            "select change, name, old_type, new_type from leadflow.source_schema_changes"
            " where stream = %s and load_id = %s order by id",
            (stream, load_id),
        ).fetchall()
    return CatalogChanges(
        added=tuple(n for c, n, _, _ in rows if c == "added"),
        removed=tuple(n for c, n, _, _ in rows if c == "removed"),
        retyped=tuple((n, old, new) for c, n, old, new in rows if c == "retyped"),
    )


def record_merges(conn: psycopg.Connection, merges: Iterable[tuple[int, int]], load_id: str) -> int:
    """Remember merged-away contact ids (old -> survivor) and retire them in raw.

    HubSpot gives a merged-away id no archived record; its only trace is the survivor's
    `hs_merged_object_ids`. The old id is marked archived (its source JSON kept) and its
    associations dropped, so models count the person once and can remap events by the map.
    """
    pairs = sorted(set(merges))
    if not pairs:
        return 0
    old_ids = [old for old, _ in pairs]
    with conn.cursor() as cur:
        cur.executemany(
            """
            insert into raw.hubspot_contact_merges (old_id, survivor_id, _load_id)
            values (%s, %s, %s)
            on conflict (old_id) do update
                set survivor_id = excluded.survivor_id, _load_id = excluded._load_id,
                    _loaded_at = now()
                where hubspot_contact_merges.survivor_id <> excluded.survivor_id
            """,
            [(old, survivor, load_id) for old, survivor in pairs],
        )
        cur.execute(
            "update raw.hubspot_contacts set archived = true, _load_id = %s, _loaded_at = now()"
            " where id = any(%s) and not archived",
            (load_id, old_ids),
        )
        cur.execute(
            "delete from raw.hubspot_associations"
            " where (from_type = 'contacts' and from_id = any(%(ids)s))"
            "    or (to_type = 'contacts' and to_id = any(%(ids)s))",
            {"ids": old_ids},
        )
    return len(pairs)


def merged_ids(record: Any) -> list[tuple[int, int]]:
    """(old_id, survivor_id) pairs from a contact's `hs_merged_object_ids` ("12;34")."""
    if not isinstance(record, dict) or not isinstance(record.get("properties"), dict):
        return []
    value = record["properties"].get("hs_merged_object_ids")
    if not isinstance(value, str) or not value:
        return []
    try:
        survivor = int(str(record["id"]))
    except (KeyError, ValueError):
        return []
    return [
        (int(v), survivor)
        for v in value.split(";")
        if v.strip().isdigit() and int(v) != survivor and int(v) <= MAX_BIGINT
    ]


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
