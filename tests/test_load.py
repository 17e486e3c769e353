"""COPY + upsert into raw: idempotent, newest wins, bad records quarantined with a reason."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from leadflow import quality
from leadflow.db import ensure_schema, open_connection
from leadflow.load import load_concurrently, register_load
from leadflow.sources.hubspot.raw import load_events, load_objects, replace_associations
from leadflow.stats import LoadStats


def _contact(cid: object, updated: str = "2026-11-20T10:00:00.000Z", **props: str) -> dict:
    return {
        "id": cid,
        "properties": {"email": f"c{cid}@acme.com", **props},
        "createdAt": "2026-11-01T10:00:00.000Z",
        "updatedAt": updated,
        "archived": False,
    }


def _count(conn: psycopg.Connection, sql: str) -> int:
    return conn.execute(sql).fetchone()[0]


def test_reloading_the_same_records_changes_nothing(pg) -> None:
    ensure_schema(pg)
    records = [_contact(str(i)) for i in range(1, 501)]
    with open_connection(pg) as conn:
        with conn.transaction():
            first = load_objects(conn, "contacts", records, "load-1")
        with conn.transaction():
            second = load_objects(conn, "contacts", records, "load-2")
        assert (first.received, first.changed, first.quarantined) == (500, 500, 0)
        assert second.changed == 0
        assert (
            _count(conn, "select count(*) from raw.hubspot_contacts where _load_id = 'load-1'")
            == 500
        )


def test_newer_version_wins_and_older_is_ignored(pg) -> None:
    ensure_schema(pg)
    with open_connection(pg) as conn, conn.transaction():
        load_objects(
            conn, "contacts", [_contact("7", "2026-11-20T10:00:00.000Z", jobtitle="CTO")], "a"
        )
        # Two versions of one id in a batch (page-boundary duplicates): the newest is kept.
        batch = [
            _contact("7", "2026-11-21T10:00:00.000Z", jobtitle="CEO"),
            _contact("7", "2026-11-19T10:00:00.000Z", jobtitle="Intern"),
        ]
        load_objects(conn, "contacts", batch, "b")
        title = conn.execute(
            "select record->'properties'->>'jobtitle' from raw.hubspot_contacts where id = 7"
        ).fetchone()[0]
        assert title == "CEO"
        load_objects(
            conn, "contacts", [_contact("7", "2026-11-18T10:00:00.000Z", jobtitle="X")], "c"
        )
        assert (
            conn.execute(
                "select record->'properties'->>'jobtitle' from raw.hubspot_contacts where id = 7"
            ).fetchone()[0]
            == "CEO"
        )


def test_bad_records_are_quarantined_with_reasons_and_the_rest_loads(pg) -> None:
    ensure_schema(pg)
    corpus = [
        _contact("1"),
        _contact("abc"),  # malformed id
        _contact("3", updated="yesterday"),  # invalid timestamp
        {**_contact("4"), "properties": ["not", "a", "dict"]},  # wrong type
        _contact("5", notes="x" * 1_100_000),  # oversized value
        _contact("6", name="nul\x00byte"),  # breaks Postgres JSON
        "not even an object",  # broken JSON document
        _contact("8"),
    ]
    with open_connection(pg) as conn, conn.transaction():
        stats = load_objects(conn, "contacts", corpus, "load-q")
        assert (stats.received, stats.quarantined) == (8, 6)
        assert _count(conn, "select count(*) from raw.hubspot_contacts") == 2
        reasons = dict(
            conn.execute(
                "select coalesce(record_id, '?'), reason from leadflow.quarantine"
            ).fetchall()
        )
    assert "malformed id" in reasons["abc"]
    assert "invalid timestamp" in reasons["3"]
    assert "properties is not a JSON object" in reasons["4"]
    assert "oversized record" in reasons["5"]
    assert "NUL" in reasons["6"]
    assert "not a JSON object" in reasons["?"]


def test_events_are_inserted_once(pg) -> None:
    ensure_schema(pg)
    events = [
        {
            "id": f"e{i}",
            "objectType": "CONTACT",
            "objectId": str(i % 7 + 1),
            "eventType": "e_visited_page",
            "occurredAt": "2026-11-20T10:00:00.000Z",
            "properties": {"hs_url": "https://x.test/pricing"},
        }
        for i in range(100)
    ]
    bad = {
        "id": "bad",
        "objectType": "CONTACT",
        "objectId": "x",
        "eventType": "e_visited_page",
        "occurredAt": "2026-11-20T10:00:00.000Z",
    }
    with open_connection(pg) as conn, conn.transaction():
        first = load_events(conn, [*events, bad], "l1")
        second = load_events(conn, events, "l2")
    assert (first.changed, first.quarantined, second.changed) == (100, 1, 0)


def _events(prefix: str, n: int) -> list[dict]:
    return [
        {
            "id": f"{prefix}{i}",
            "objectType": "CONTACT",
            "objectId": "1",
            "eventType": "e_visited_page",
            "occurredAt": "2026-11-20T10:00:00.000Z",
        }
        for i in range(n)
    ]


def test_a_load_gate_sees_every_row_of_its_load_and_no_other(
    pg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gate finds a load's rows from its registered start: rows that an earlier attempt of
    the same interval wrote still count, rows of another load do not."""
    suite = {
        "name": "events_of_load",
        "scope": "load",
        "schema": "raw",
        "table": "hubspot_events",
        "expectations": [{"type": "expect_table_row_count_to_equal", "kwargs": {"value": 5}}],
    }
    (tmp_path / "events_of_load.json").write_text(json.dumps(suite))
    monkeypatch.setenv("LEADFLOW_EXPECTATIONS_DIR", str(tmp_path))
    ensure_schema(pg)
    attempts = [("hour", _events("a", 3)), ("other", _events("o", 4)), ("hour", _events("b", 2))]
    with open_connection(pg) as conn:
        for load_id, events in attempts:
            with conn.transaction():
                register_load(conn, load_id)
            with conn.transaction():
                load_events(conn, events, load_id)
    assert quality.validate(pg, "events_of_load", "t", load_id="hour").success
    with pytest.raises(quality.QualityGateFailed, match="events_of_load"):
        quality.validate(pg, "events_of_load", "t", load_id="other")


def test_events_repeated_in_a_batch_or_loaded_concurrently_are_stored_once(pg) -> None:
    ensure_schema(pg)
    event = {
        "id": "e1",
        "objectType": "CONTACT",
        "objectId": "1",
        "eventType": "e_visited_page",
        "occurredAt": "2026-11-20T10:00:00.000Z",
    }
    with (
        open_connection(pg) as first,
        open_connection(pg) as second,
        ThreadPoolExecutor(1) as pool,
    ):
        with first.transaction():
            assert load_events(first, [event, event], "a").changed == 1
            # A second loader of the same event waits on the first one's uncommitted row, then
            # collides on commit; it falls back to skipping it instead of failing its batch.
            racing = pool.submit(_load_in_transaction, second, [event], "b")
            time.sleep(0.3)
        assert racing.result(timeout=10).changed == 0
        assert _count(first, "select count(*) from raw.hubspot_events") == 1


def _load_in_transaction(conn: psycopg.Connection, events: list[dict], load_id: str) -> LoadStats:
    with conn.transaction():
        return load_events(conn, events, load_id)


def test_batches_loaded_at_once_retry_a_collision_and_stop_at_an_error(pg) -> None:
    """Two running batches that write the same record: the one that collides is re-run once
    the other committed, and nothing is stored twice. Any other error stops the load."""
    ensure_schema(pg)

    def link(conn: psycopg.Connection, first: bool) -> bool:
        replace_associations(conn, "contacts", "companies", [1], [(1, 10, 1)], "a")
        if first:
            time.sleep(0.3)  # the other batch now waits on this one's uncommitted rows
        return first

    assert load_concurrently(pg, [True, False], link) == [True, False]

    def mark(conn: psycopg.Connection, n: int) -> int:
        if n == 3:
            raise ValueError("batch 3 is broken")
        conn.execute("insert into marks values (%s)", (n,))
        return n

    with open_connection(pg) as conn:
        assert _count(conn, "select count(*) from raw.hubspot_associations") == 2
        conn.execute("create table marks (n integer)")
        conn.commit()
        with pytest.raises(ValueError, match="batch 3"):
            load_concurrently(pg, range(10), mark)
        assert 3 <= _count(conn, "select count(*) from marks") <= 4


def test_associations_are_replaced_in_both_directions(pg) -> None:
    ensure_schema(pg)
    with open_connection(pg) as conn, conn.transaction():
        replace_associations(conn, "contacts", "companies", [1, 2], [(1, 10, 1), (2, 10, 1)], "a")
        replace_associations(conn, "contacts", "companies", [1], [(1, 11, 1)], "b")
        rows = set(
            conn.execute(
                "select from_type, from_id, to_type, to_id, type_id from raw.hubspot_associations"
            ).fetchall()
        )
    assert rows == {
        ("contacts", 1, "companies", 11, 1),
        ("companies", 11, "contacts", 1, 2),
        ("contacts", 2, "companies", 10, 1),
        ("companies", 10, "contacts", 2, 2),
    }


def test_the_raw_events_gate_rejects_events_dated_implausibly(pg) -> None:
    """The loader quarantines such events; the gate is the check behind it (here rows another
    writer put into raw): before 2000, or later than an hour after they were loaded."""
    ensure_schema(pg)
    with open_connection(pg) as conn, conn.transaction():
        register_load(conn, "hour")
        conn.execute(
            "insert into raw.hubspot_events"
            " (id, event_type, object_type, object_id, occurred_at, record, _load_id)"
            " values ('ok', 'e_visited_page', 'contact', 1, now() - interval '1 hour', '{}',"
            " 'hour')"
        )
    assert quality.validate(pg, "raw_hubspot_events", "t", load_id="hour").success
    for planted in ("'1999-06-01'", "now() + interval '75 years'"):
        with open_connection(pg) as conn, conn.transaction():
            conn.execute(
                "insert into raw.hubspot_events"
                " (id, event_type, object_type, object_id, occurred_at, record, _load_id)"
                f" values ('bad', 'e_visited_page', 'contact', 1, {planted}, '{{}}', 'hour')"
                " on conflict (id) do update set occurred_at = excluded.occurred_at"
            )
        with pytest.raises(quality.QualityGateFailed, match="implausible"):
            quality.validate(pg, "raw_hubspot_events", "t", load_id="hour")
