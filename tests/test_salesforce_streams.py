"""The Salesforce streams against the sandbox and a real Postgres: a first load by Bulk API
2.0, then keyset reads of what changed, deletions and merges through queryAll, records sharing
a second never lost, a re-run that changes nothing, bad records quarantined, and a stop at the
reserved share of the daily allocation that leaves the cursor where it was."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from leadflow.db import ensure_schema
from leadflow.settings import PostgresSettings
from leadflow.sources.salesforce import Salesforce
from leadflow.sources.salesforce.client import ApiAllocationReserved
from leadflow.sources.salesforce.objects import READ
from leadflow.sources.salesforce.sandbox.org import Org
from leadflow.sources.salesforce.sandbox.server import SandboxConfig, SandboxServer
from leadflow.sources.salesforce.sandbox.synthetic import generate
from leadflow.sources.salesforce.streams import extract_stream

NOW = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def db(pg: PostgresSettings) -> PostgresSettings:
    ensure_schema(pg)
    with psycopg.connect(**pg.conninfo(), autocommit=True) as conn:
        conn.execute(Salesforce().schema_sql())
    return pg


def _serve(org: Org) -> SandboxServer:
    return SandboxServer(org, SandboxConfig()).start()


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    running = _serve(generate(seed=5, people=300, now=NOW - 2 * HOUR))
    org = running.org
    org.clock = lambda: NOW - HOUR  # the org's writes from here on happen an hour ago
    yield running
    running.stop()


def _run(db: PostgresSettings, server: SandboxServer, stream: str, end: datetime, **kw: object):
    return extract_stream(
        stream,
        db,
        server.client_settings(settle_s=0, backoff_s=0, **kw),
        end - HOUR,
        end,
        f"load-{end}",
    )


def _rows(db: PostgresSettings, table: str) -> dict[str, tuple[bool, dict]]:
    with psycopg.connect(**db.conninfo()) as conn:
        return {
            r[0]: (r[1], r[2]) for r in conn.execute(f"select id, archived, record from {table}")
        }


def test_first_load_by_bulk_then_only_changes(db: PostgresSettings, server: SandboxServer) -> None:
    org = server.org
    for obj in READ:
        stats = _run(db, server, obj.stream, NOW)
        assert stats.mode == "bulk" and stats.quarantined == 0
        assert set(_rows(db, f"raw.{obj.stream}")) == set(org.records[obj.name]), obj.name
    lead = next(r for r in org.records["Lead"].values() if r["Email"])
    assert _rows(db, "raw.salesforce_leads")[lead["Id"]][1]["Email"] == lead["Email"]
    again = _run(db, server, "salesforce_leads", NOW)
    assert (again.mode, again.received, again.changed) == ("query", 0, 0)

    open_leads = [r["Id"] for r in org.records["Lead"].values() if not r["IsConverted"]]
    org.clock = lambda: NOW + timedelta(minutes=10)
    for lead_id in open_leads[:3]:
        org.update("Lead", lead_id, {"Status": "Working - Contacted"})
    org.delete("Lead", open_leads[3])
    org.merge("Lead", open_leads[4], open_leads[5])
    later = _run(db, server, "salesforce_leads", NOW + HOUR)
    assert (later.received, later.changed, later.archived) == (5, 5, 2)
    rows = _rows(db, "raw.salesforce_leads")
    assert rows[open_leads[0]][1]["Status"] == "Working - Contacted"
    assert rows[open_leads[3]][0] and rows[open_leads[5]][0]
    assert rows[open_leads[5]][1]["MasterRecordId"] == open_leads[4]
    history = _run(db, server, "salesforce_lead_history", NOW + HOUR)
    assert history.received == 3  # one Status change each


def test_records_sharing_a_second_are_read_once_whatever_the_boundary(
    db: PostgresSettings,
) -> None:
    org = Org()
    second = NOW - timedelta(minutes=30)
    org.clock = lambda: second
    first = [org.insert("Lead", {"LastName": f"A{i}", "Company": "Acme"}) for i in range(5)]
    with SandboxServer(org, SandboxConfig()) as server:
        run = _run(db, server, "salesforce_leads", second, bulk_first_load=False)
        assert run.received == 0  # the interval ends at that second: none of it yet
        assert _run(db, server, "salesforce_leads", NOW).received == 5
        # Written later with the same stamp (a transaction committed after the read):
        late = [org.insert("Lead", {"LastName": f"B{i}", "Company": "Acme"}) for i in range(3)]
        assert _run(db, server, "salesforce_leads", NOW).received == 3
    assert set(_rows(db, "raw.salesforce_leads")) == {*first, *late}


def test_a_rerun_of_the_interval_changes_nothing(
    db: PostgresSettings, server: SandboxServer
) -> None:
    first = _run(db, server, "salesforce_contacts", NOW)
    second = _run(db, server, "salesforce_contacts", NOW)
    assert first.changed > 0 and second.changed == 0
    with psycopg.connect(**db.conninfo()) as conn:
        (count,) = conn.execute("select count(*) from raw.salesforce_contacts").fetchone()
    assert count == first.changed


def test_a_record_without_a_valid_id_is_quarantined_with_the_reason(
    db: PostgresSettings, server: SandboxServer
) -> None:
    # the last one read, where a malformed Id would otherwise become the cursor
    broken = max(
        server.org.records["Campaign"].values(), key=lambda r: (r["SystemModstamp"], r["Id"])
    )
    broken["Id"] = "not-an-id"
    stats = _run(db, server, "salesforce_campaigns", NOW, bulk_first_load=False)
    assert stats.quarantined == 1 and stats.changed == stats.received - 1
    with psycopg.connect(**db.conninfo()) as conn:
        reason = conn.execute(
            "select reason from leadflow.quarantine where stream = 'salesforce_campaigns'"
        ).fetchone()
        (cursor_key,) = conn.execute(
            "select cursor_key from leadflow.stream_state where stream = 'salesforce_campaigns'"
        ).fetchone()
    assert reason == ("malformed Id 'not-an-id'",)
    assert cursor_key in server.org.records["Campaign"]  # a valid id, not the malformed one


def test_the_reserved_allocation_stops_the_stream_with_its_cursor_kept(
    db: PostgresSettings, server: SandboxServer
) -> None:
    _run(db, server, "salesforce_tasks", NOW)
    with psycopg.connect(**db.conninfo()) as conn:
        before = conn.execute("select cursor_at, cursor_key from leadflow.stream_state").fetchall()
    server.org.api_max = server.org.api_used + 2
    with pytest.raises(ApiAllocationReserved, match="reserved for other integrations"):
        _run(db, server, "salesforce_tasks", NOW + HOUR, api_reserve_percent=50.0)
    with psycopg.connect(**db.conninfo()) as conn:
        after = conn.execute("select cursor_at, cursor_key from leadflow.stream_state").fetchall()
    assert after == before
