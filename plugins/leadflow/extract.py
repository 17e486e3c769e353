"""The core of every source's extract: batches prefetched while the previous one loads, and a
stream's cursor in Postgres (leadflow.stream_state), which moves only after the whole window
was loaded and committed, so a killed run re-done reads the same window again.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import islice
from typing import Any

from leadflow.db import connect
from leadflow.load import register_load
from leadflow.settings import PostgresSettings
from leadflow.stats import ExtractStats

log = logging.getLogger(__name__)

BATCH_ROWS = 5000
PREFETCH_BATCHES = 2
PREFETCH_SWITCH_INTERVAL_S = 0.0002


def batches(items: Iterable[Any], size: int | None = None) -> Iterator[list[Any]]:
    """`items` in lists of `size` (BATCH_ROWS): the unit of one load transaction."""
    iterator = iter(items)
    while batch := list(islice(iterator, size or BATCH_ROWS)):
        yield batch


def prefetched(batches: Iterator[Any], depth: int = PREFETCH_BATCHES) -> Iterator[Any]:
    """Fetch (and encode) the next batches in a thread while the caller loads the current one.

    HTTP waits, Python's encoding and Postgres's writing overlap instead of adding up; an error
    in the fetcher is re-raised in the caller, and a caller that stops early stops the fetcher.
    While the fetcher encodes it holds the GIL; the loading thread needs it only for a moment
    after each Postgres round trip, so the switch interval is shortened for the duration
    (bench/load_bench.py measures it).
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

    worker = threading.Thread(target=fetch, name="leadflow-prefetch", daemon=True)
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


def start_stream(pg: PostgresSettings, stream: str, load_id: str) -> datetime | None:
    """Register the load (before its first batch) and return the stream's cursor."""
    cursor = start_keyset_stream(pg, stream, load_id)
    return cursor[0] if cursor else None


def start_keyset_stream(
    pg: PostgresSettings, stream: str, load_id: str
) -> tuple[datetime, str] | None:
    """As start_stream, for a stream whose cursor is a keyset (time, id of the last record)."""
    with connect(pg) as conn:
        register_load(conn, load_id)
        row = conn.execute(
            "select cursor_at, cursor_key from leadflow.stream_state where stream = %s",
            (stream,),
        ).fetchone()
    return (row[0], row[1] or "") if row else None


def finish_stream(
    pg: PostgresSettings,
    stats: ExtractStats,
    cursor_to: datetime,
    load_id: str,
    cursor_key: str | None = None,
) -> None:
    """Move the stream's cursor (never backwards) once all its batches are committed; a
    keyset cursor moves by (time, key)."""
    with connect(pg) as conn:
        if cursor_key is None:
            conn.execute(
                """
                insert into leadflow.stream_state (stream, cursor_at) values (%s, %s)
                on conflict (stream) do update
                    set cursor_at = greatest(stream_state.cursor_at, excluded.cursor_at),
                        updated_at = now()
                """,
                (stats.stream, cursor_to),
            )
        else:
            conn.execute(
                """
                insert into leadflow.stream_state (stream, cursor_at, cursor_key)
                values (%s, %s, %s)
                on conflict (stream) do update
                    set cursor_at = excluded.cursor_at, cursor_key = excluded.cursor_key,
                        updated_at = now()
                    where (stream_state.cursor_at, coalesce(stream_state.cursor_key, ''))
                        < (excluded.cursor_at, excluded.cursor_key)
                """,
                (stats.stream, cursor_to, cursor_key),
            )
    if stats.quarantined:
        log.warning(
            "%s: %d record(s) could not be loaded and are in leadflow.quarantine (load %s)",
            stats.stream,
            stats.quarantined,
            load_id,
        )
    log.info("extracted %s", stats.as_dict())
