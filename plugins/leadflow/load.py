"""Bulk loads into the `raw` schema: COPY into a temp table, then one set-based upsert.

The source packages turn their records into COPY lines with the encoders here and write them
with the writers here; each batch is checked record by record first, and a record that cannot
be loaded goes to `leadflow.quarantine` with its reason and raw payload instead of failing the
run or vanishing.

Records are encoded once with msgspec into ready-made COPY text lines (no per-value
adaptation), which needs no connection, so an extractor runs the encoding in its prefetch thread
while Postgres writes the previous batch. Lines are staged as text, and only rows whose content
hash differs from raw are parsed into jsonb, so the hourly re-read of a lookback window costs
little; upserts only touch rows whose source JSON changed, so re-loading the same data changes
nothing (bench/load_bench.py measures it).
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
from datetime import datetime
from typing import Any, TypeVar

import msgspec
import psycopg

from leadflow.db import open_connection
from leadflow.settings import PostgresSettings
from leadflow.stats import LoadStats

MAX_RECORD_BYTES = 1_000_000
MAX_BIGINT = 2**63 - 1

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

_encode = msgspec.json.Encoder().encode


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
    it writes one batch while it parses the other (bench/load_bench.py). Batches commit in any
    order,
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


def bigint(value: Any, what: str) -> int:
    """A positive 64-bit id, or BadRecord naming `what` it is."""
    try:
        number = int(str(value))
    except (TypeError, ValueError) as exc:
        raise BadRecord(f"malformed {what} {value!r}") from exc
    if not 0 < number <= MAX_BIGINT:
        raise BadRecord(f"malformed {what} {value!r}")
    return number


def timestamp(record: dict[str, Any], key: str) -> datetime:
    """record[key] as an aware datetime, or BadRecord."""
    value = record.get(key)
    try:
        ts = datetime.fromisoformat(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise BadRecord(f"invalid timestamp in {key}: {value!r}") from exc
    if ts.tzinfo is None:
        raise BadRecord(f"timestamp without time zone in {key}: {value!r}")
    return ts


def payload(record: Any) -> bytes:
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


def copy_text(value: str) -> bytes:
    """A COPY text field; NUL cannot be stored."""
    if "\x00" in value:
        raise BadRecord(f"NUL character in {value!r}")
    return (
        value.replace("\\", "\\\\")
        .replace("\t", "\\t")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .encode()
    )


def object_line(object_id: int | str, data: bytes, updated: datetime, archived: bool) -> bytes:
    """One COPY line `id, record, hash, updated_at, archived` of an object table in raw (ids
    are numbers for some sources, text for others)."""
    return b"%s\t%s\t%s\t%s\t%s\n" % (
        copy_text(object_id) if isinstance(object_id, str) else b"%d" % object_id,
        data.replace(b"\\", b"\\\\"),
        hashlib.blake2b(data, digest_size=16).hexdigest().encode(),
        updated.isoformat().encode(),
        b"t" if archived else b"f",
    )


def event_line(
    event_id: str,
    event_type: str,
    object_type: str,
    object_id: int,
    occurred: datetime,
    data: bytes,
) -> bytes:
    """One COPY line `id, event_type, object_type, object_id, occurred_at, record` of events."""
    return b"%s\t%s\t%s\t%d\t%s\t%s\n" % (
        copy_text(event_id),
        copy_text(event_type),
        copy_text(object_type),
        object_id,
        occurred.isoformat().encode(),
        data.replace(b"\\", b"\\\\"),
    )


def activity_line(
    record_id: str, kind: str, email: str | None, occurred: datetime, data: bytes
) -> bytes:
    """One COPY line `id, kind, email, occurred_at, record` of activity keyed by an email."""
    return b"%s\t%s\t%s\t%s\t%s\n" % (
        copy_text(record_id),
        copy_text(kind),
        b"\\N" if email is None else copy_text(email),
        occurred.isoformat().encode(),
        data.replace(b"\\", b"\\\\"),
    )


def encode_all(
    records: Sequence[Any], to_line: Callable[[Any], bytes], id_key: str = "id"
) -> Encoded:
    """Every record as a COPY line, or with why it cannot be one (`to_line` raises BadRecord);
    a bad record is known by its `id_key`."""
    lines, bad = [], []
    for record in records:
        try:
            lines.append(to_line(record))
        except BadRecord as exc:
            record_id = record.get(id_key) if isinstance(record, dict) else None
            bad.append((str(record_id) if record_id is not None else None, str(exc), _raw(record)))
    return Encoded(len(records), lines, bad)


def first_of_each_id(encoded: Encoded) -> Encoded:
    """Immutable records (events): a repeat of an id within the batch is kept once."""
    seen: set[bytes] = set()
    unique = []
    for line in encoded.lines:
        record_id = line.split(b"\t", 1)[0]
        if record_id not in seen:
            seen.add(record_id)
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


def stage_objects(cur: psycopg.Cursor, lines: list[bytes], id_type: str = "bigint") -> str:
    """COPY pre-encoded object lines into a staging table holding exactly these lines; returns
    its name (one per id type: `bigint` or `text`).

    One batch's transaction stages twice (its live records, then its archived ones), so the
    table is emptied first: rows left from the live step would otherwise be retired too.
    """
    stage = "_stage_objects" if id_type == "bigint" else f"_stage_objects_{id_type}"
    cur.execute(
        f"create temp table if not exists {stage} (id {id_type}, record text,"
        " hash uuid, updated_at timestamptz, archived boolean) on commit delete rows"
    )
    cur.execute(f"delete from {stage}")
    with cur.copy(f"copy {stage} (id, record, hash, updated_at, archived) from stdin") as cp:
        cp.write(b"".join(lines))
    return stage


def upsert_objects(
    conn: psycopg.Connection,
    table: str,
    stream: str,
    batch: Encoded,
    load_id: str,
    id_type: str = "bigint",
) -> LoadStats:
    """Upsert objects into the raw `table`; the newer `updated_at` wins, archived wins ties.

    Only rows whose hash differs from raw are cast to jsonb and written. The staged batch meets
    raw through `lateral (... limit 1)`, which the planner cannot turn into a hash join: the temp
    table has no statistics, and a hash join would read all of raw for every batch instead of
    probing its primary key once per staged row.
    """
    with conn.cursor() as cur:
        stage = stage_objects(cur, batch.lines, id_type)
        cur.execute(
            f"""
            insert into {table} as t (id, record, updated_at, archived, _hash, _load_id)
            select distinct on (s.id)
                s.id, s.record::jsonb, s.updated_at, s.archived, s.hash, %(load_id)s
            from {stage} as s
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


# Columns of the immutable raw tables: events by object, and activity keyed by an email.
EVENT_COLUMNS = ("id", "event_type", "object_type", "object_id", "occurred_at", "record")
ACTIVITY_COLUMNS = ("id", "kind", "email", "occurred_at", "record")


def insert_new(
    conn: psycopg.Connection,
    table: str,
    stream: str,
    batch: Encoded,
    load_id: str,
    columns: Sequence[str] = EVENT_COLUMNS,
) -> LoadStats:
    """Insert immutable records (events, submissions) into the raw `table`: a known id is
    skipped, and an id already quarantined is not stored again (every run reads its window
    again). `columns` are the COPY lines' fields, `id` first and `record` (JSON) last.

    A plain insert of the unknown ids is cheaper than `on conflict do nothing` (by about a
    quarter). Only a concurrent load of the same records can still
    collide; that batch is then redone with `on conflict do nothing` under a savepoint.
    """
    stage = f"_stage_{table.rsplit('.', 1)[-1]}"
    names = ", ".join(columns)
    values = ", ".join(f"s.{c}::jsonb" if c == "record" else f"s.{c}" for c in columns)
    as_text = ", ".join("record::text as record" if c == "record" else c for c in columns)
    insert = f"""
        insert into {table} ({names}, _load_id)
        select {values}, %(load_id)s
        from {stage} as s
        left join lateral (
            select true as hit from {table} as known where known.id = s.id limit 1
        ) as known on true
        where known.hit is null
    """
    with conn.cursor() as cur:
        # the raw table's column types, with record as text (COPY text, cast on insert)
        cur.execute(
            f"create temp table if not exists {stage} on commit delete rows as"
            f" select {as_text} from {table} with no data"
        )
        with cur.copy(f"copy {stage} ({names}) from stdin") as cp:
            cp.write(b"".join(batch.lines))
        try:
            with conn.transaction():
                cur.execute(insert, {"load_id": load_id})
        except psycopg.errors.UniqueViolation:
            cur.execute(insert + " on conflict (id) do nothing", {"load_id": load_id})
        changed = cur.rowcount
    return LoadStats(
        batch.received, changed, quarantine(conn, stream, load_id, batch.bad, once_per_id=True)
    )
