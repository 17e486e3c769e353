"""Extract under faults, over HTTP against the sandbox, into a real Postgres.

Deletes and merges reach raw; a killed extract re-run equals an uninterrupted one; 429 storms,
5xx blips and a bad-record corpus still end with everything loaded or quarantined; the token
never reaches a log line.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from leadflow.db import connect, ensure_schema
from leadflow.settings import PostgresSettings
from leadflow.sources.hubspot.client import HubSpotClient, RateBudget
from leadflow.sources.hubspot.sandbox import Portal, SandboxConfig, SandboxServer
from leadflow.sources.hubspot.settings import HubSpotSettings
from leadflow.sources.hubspot.streams import STREAMS, extract_stream

from .conftest import NOW, TOKEN

HOUR = timedelta(hours=1)
START, END = NOW - HOUR, NOW
EARLIER = NOW - 3 * HOUR
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _fresh_db(server: PostgresSettings) -> PostgresSettings:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(**server.conninfo(), autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    settings = PostgresSettings(host=server.host, port=server.port, dbname=name)
    ensure_schema(settings)
    return settings


@pytest.fixture
def pg_clean(pg_server: PostgresSettings) -> Iterator[PostgresSettings]:
    """A second database: the uninterrupted run to compare against."""
    settings = _fresh_db(pg_server)
    yield settings
    with psycopg.connect(**pg_server.conninfo(), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{settings.dbname}" with (force)')


def _settings(server: SandboxServer, **kw: Any) -> HubSpotSettings:
    """A token of its own per server, so no test shares another's rate budget."""
    return HubSpotSettings(
        base_url=server.url,
        token=server.config.token,
        rate_limit_per_10s=kw.pop("rate", 1000),
        search_rate_per_s=kw.pop("search", 100),
        **kw,
    )


def _serve(portal: Portal, **config: Any) -> SandboxServer:
    portal.clock = lambda: NOW
    token = f"pat-na1-{uuid.uuid4()}"
    return SandboxServer(portal, SandboxConfig(token=token, **config)).start()


def _snapshot(pg: PostgresSettings) -> dict[str, list[tuple]]:
    """Every raw table and cursor, minus load ids and load times."""
    queries = {
        "contacts": "select id, record, updated_at, archived from raw.hubspot_contacts",
        "companies": "select id, record, updated_at, archived from raw.hubspot_companies",
        "deals": "select id, record, updated_at, archived from raw.hubspot_deals",
        "owners": "select id, record, updated_at, archived from raw.hubspot_owners",
        "events": "select id, object_id, occurred_at, record from raw.hubspot_events",
        "associations": "select from_type, from_id, to_type, to_id, type_id"
        " from raw.hubspot_associations",
        "merges": "select old_id, survivor_id from raw.hubspot_contact_merges",
        "quarantine": "select stream, record_id, reason, payload from leadflow.quarantine",
        "cursors": "select stream, cursor_at from leadflow.stream_state",
    }
    with connect(pg) as conn:
        return {
            name: sorted(
                tuple(json.dumps(v, sort_keys=True, default=str) for v in row)
                for row in conn.execute(sql)
            )
            for name, sql in queries.items()
        }


def _extract_all(pg: PostgresSettings, hs: HubSpotSettings, load_id: str = "l1") -> dict:
    return {s: extract_stream(s, pg, hs, START, END, load_id) for s in STREAMS}


def _ids(pg: PostgresSettings, table: str, archived: bool | None = None) -> set[int]:
    where = "" if archived is None else f" where archived = {str(archived).lower()}"
    with connect(pg) as conn:
        return {r[0] for r in conn.execute(f"select id from {table}{where}")}


def _live_contacts(portal: Portal) -> set[int]:
    return {
        o.id
        for o in portal._objects["contacts"].values()
        if o.archived_ms is None and o.updated_ms < NOW.timestamp() * 1000
    }


# -- deletes and merges ------------------------------------------------------------------------


def test_archived_objects_are_marked_and_lose_their_links(pg) -> None:
    ensure_schema(pg)
    portal = Portal()
    server = _serve(portal)
    try:
        hs = _settings(server)
        company = portal.add_company({"name": "Acme"}, updated_at=EARLIER)
        keep = portal.add_contact({"email": "keep@acme.test"}, updated_at=EARLIER)
        gone = portal.add_contact({"email": "gone@acme.test"}, updated_at=EARLIER)
        deal = portal.add_deal({"dealname": "D"}, updated_at=EARLIER)
        for cid in (keep, gone):
            portal.associate("contacts", cid, "companies", company)
        portal.associate("deals", deal, "contacts", gone)
        first = NOW - 2 * HOUR
        for s in STREAMS:
            extract_stream(s, pg, hs, first - HOUR, first, "l0")
        assert _ids(pg, "raw.hubspot_contacts", archived=False) == {keep, gone}

        portal.clock = lambda: START + timedelta(minutes=5)  # archived inside the interval
        portal.archive_object("contacts", gone)
        portal.archive_object("deals", deal)
        result = {s: extract_stream(s, pg, hs, START, END, "l1") for s in STREAMS}
        # And once more: a re-run of the interval changes nothing.
        again = {s: extract_stream(s, pg, hs, START, END, "l1") for s in STREAMS}
    finally:
        server.stop()
    assert result["contacts"].archived == 1 and result["deals"].archived == 1
    assert again["contacts"].changed == 0 and again["deals"].changed == 0
    assert _ids(pg, "raw.hubspot_contacts", archived=True) == {gone}
    assert _ids(pg, "raw.hubspot_deals", archived=True) == {deal}
    with connect(pg) as conn:
        record = conn.execute(
            "select record from raw.hubspot_contacts where id = %s", (gone,)
        ).fetchone()[0]
        links = set(conn.execute("select from_id, to_id from raw.hubspot_associations"))
    assert record["archived"] is True and record["archivedAt"].startswith("2026-11-23T09:05")
    assert record["properties"]["email"] == "gone@acme.test"  # last source JSON kept
    assert (keep, company) in links and (company, keep) in links
    assert not {pair for pair in links if gone in pair or deal in pair}


def test_a_deletion_archives_only_the_deleted_object_not_the_live_ones_read_with_it(pg) -> None:
    """Live and archived records of one window land in one batch: only the deleted one is
    archived, on a first load and in an hour with edits, for contacts and companies alike."""
    ensure_schema(pg)
    portal = Portal()
    server = _serve(portal)
    try:
        hs = _settings(server)
        companies = [portal.add_company({"name": f"Co {i}"}, updated_at=EARLIER) for i in range(40)]
        contacts = [
            portal.add_contact({"email": f"c{i}@acme.test"}, updated_at=EARLIER) for i in range(200)
        ]
        portal.clock = lambda: EARLIER + timedelta(minutes=5)
        portal.archive_object("contacts", contacts[0])
        portal.archive_object("companies", companies[0])
        for s in ("companies", "contacts"):  # the first load: the list API, then the archived
            extract_stream(s, pg, hs, START - HOUR, START, "l0")
        assert _ids(pg, "raw.hubspot_contacts", archived=True) == {contacts[0]}
        assert _ids(pg, "raw.hubspot_contacts", archived=False) == set(contacts[1:])
        assert _ids(pg, "raw.hubspot_companies", archived=True) == {companies[0]}
        assert _ids(pg, "raw.hubspot_companies", archived=False) == set(companies[1:])

        edited = contacts[1:51]  # an hour with 50 edits and one deletion
        for cid in edited:
            portal.update_object(
                "contacts", cid, {"jobtitle": "CTO"}, updated_at=START + timedelta(minutes=10)
            )
        portal.clock = lambda: START + timedelta(minutes=20)
        portal.archive_object("contacts", contacts[60])
        result = extract_stream("contacts", pg, hs, START, END, "l1")
    finally:
        server.stop()
    assert result.archived == 1 and result.changed == 51
    assert _ids(pg, "raw.hubspot_contacts", archived=True) == {contacts[0], contacts[60]}
    with connect(pg) as conn:
        titles = dict(
            conn.execute(
                "select id, record->'properties'->>'jobtitle' from raw.hubspot_contacts"
                " where not archived and id = any(%s)",
                (edited,),
            ).fetchall()
        )
    assert titles == {cid: "CTO" for cid in edited}


def test_merged_contacts_map_old_ids_to_the_survivor(pg) -> None:
    ensure_schema(pg)
    portal = Portal()
    server = _serve(portal)
    try:
        hs = _settings(server)
        company = portal.add_company({"name": "Acme"}, updated_at=EARLIER)
        a, b, c = (
            portal.add_contact({"email": f"{n}@acme.test"}, updated_at=EARLIER) for n in "abc"
        )
        portal.associate("contacts", b, "companies", company)
        for s in ("companies", "contacts"):
            extract_stream(s, pg, hs, START - 2 * HOUR, START - HOUR, "l0")
        portal.clock = lambda: START + timedelta(minutes=10)
        with HubSpotClient(hs) as client:
            survivor = client.merge("contacts", a, b)
            client.merge("contacts", c, a)  # a chain: b -> a -> c
            # HubSpot answers reads of a merged-away id with the survivor.
            redirected = client._json("GET", f"/crm/v3/objects/contacts/{b}")
        result = extract_stream("contacts", pg, hs, START, END, "l1")
    finally:
        server.stop()
    assert survivor["properties"]["hs_merged_object_ids"] == str(b)
    assert redirected["id"] == str(c)
    assert result.merged == 2
    with connect(pg) as conn:
        merges = dict(conn.execute("select old_id, survivor_id from raw.hubspot_contact_merges"))
        links = set(conn.execute("select from_id, to_id from raw.hubspot_associations"))
    assert merges == {a: c, b: c}
    assert _ids(pg, "raw.hubspot_contacts", archived=True) == {a, b}
    assert _ids(pg, "raw.hubspot_contacts", archived=False) == {c}
    # b's company moved with the merges to the survivor; the old ids keep no links.
    assert (c, company) in links and (company, c) in links
    assert not {pair for pair in links if a in pair or b in pair}


# -- kill and re-run ---------------------------------------------------------------------------

_CHILD = """
import json, sys
from datetime import datetime
from leadflow import extract
from leadflow.settings import PostgresSettings
from leadflow.sources.hubspot.settings import HubSpotSettings
from leadflow.sources.hubspot.streams import extract_stream
cfg = json.load(sys.stdin)
extract.BATCH_ROWS = cfg["batch"]
extract_stream(cfg["stream"], PostgresSettings(**cfg["pg"]), HubSpotSettings(**cfg["hs"]),
               datetime.fromisoformat(cfg["start"]), datetime.fromisoformat(cfg["end"]),
               cfg["load_id"])
"""


def _count(pg: PostgresSettings, table: str) -> int:
    with connect(pg) as conn:
        return conn.execute(f"select count(*) from {table}").fetchone()[0]


def test_kill_mid_stream_then_rerun_equals_an_uninterrupted_run(pg, pg_clean) -> None:
    ensure_schema(pg)
    portal = Portal.generate(seed=3, contacts=4000, now=NOW)
    server = _serve(portal)
    try:
        hs = _settings(server)
        _extract_all(pg_clean, hs)  # the reference: one uninterrupted run

        server.config.latency_ms = 15  # slow enough to be caught mid-stream
        cfg = {
            "stream": "contacts",
            "batch": 500,
            "pg": {"host": pg.host, "port": pg.port, "dbname": pg.dbname},
            "hs": {
                "base_url": hs.base_url,
                "token": hs.token,
                "rate_limit_per_10s": 1000,
                "search_rate_per_s": 100,
            },
            "start": START.isoformat(),
            "end": END.isoformat(),
            "load_id": "l1",
        }
        env = {**os.environ, "PYTHONPATH": os.path.join(REPO, "plugins")}
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD], stdin=subprocess.PIPE, env=env, text=True
        )
        child.stdin.write(json.dumps(cfg))
        child.stdin.close()
        deadline = time.monotonic() + 60
        while _count(pg, "raw.hubspot_contacts") < 1500 and time.monotonic() < deadline:
            assert child.poll() is None, "the extract finished before it could be killed"
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait()
        killed_at = _count(pg, "raw.hubspot_contacts")
        assert 1500 <= killed_at < len(_live_contacts(portal))
        assert _count(pg, "leadflow.stream_state") == 0  # the cursor did not move

        server.config.latency_ms = 0
        _extract_all(pg, hs)  # the re-run of the same interval
    finally:
        server.stop()
    killed, clean = _snapshot(pg), _snapshot(pg_clean)
    assert {k: len(v) for k, v in killed.items()} == {k: len(v) for k, v in clean.items()}
    assert killed == clean
    assert {int(r[0]) for r in killed["contacts"]} == _live_contacts(portal)


# -- HTTP faults -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("faults", "counter"),
    [({"storm_429_every": 5}, "throttled"), ({"error_rate_5xx": 0.1, "fault_seed": 5}, "retried")],
    ids=["429-storm", "10pct-5xx"],
)
def test_faults_still_load_everything(pg, pg_clean, faults: dict, counter: str) -> None:
    ensure_schema(pg)
    portal = Portal.generate(seed=5, contacts=300, now=NOW)
    server = _serve(portal)
    try:
        hs = _settings(server, backoff_s=0.05)
        _extract_all(pg_clean, hs)
        for key, value in faults.items():
            setattr(server.config, key, value)
        stats = _extract_all(pg, hs)
        served = list(portal.request_log)
    finally:
        server.stop()
    assert sum(getattr(s, counter) for s in stats.values()) > 0
    statuses = {status for _, _, status in served}
    assert (429 in statuses) if counter == "throttled" else ({502, 503} & statuses)
    assert _snapshot(pg) == _snapshot(pg_clean)


def test_bad_record_corpus_over_http_lands_in_quarantine(pg) -> None:
    ensure_schema(pg)
    portal = Portal()
    server = _serve(portal)
    good = {
        portal.add_contact({"email": f"g{i}@x.test"}, updated_at=START + timedelta(minutes=i))
        for i in range(5)
    }
    stamp = "2026-11-23T09:30:00.000Z"

    def contact(cid: Any, **extra: Any) -> dict:
        props = {"email": f"{cid}@bad.test", "hs_lastmodifieddate": stamp}
        return {"id": cid, "properties": props, "createdAt": stamp, "updatedAt": stamp, **extra}

    corpus = [
        contact("12x"),  # malformed id
        contact("-4"),  # malformed id
        contact("99999999999999999999"),  # id beyond bigint
        {**contact("901"), "updatedAt": "last tuesday"},  # invalid timestamp
        {**contact("902"), "updatedAt": "2026-11-23T09:30:00"},  # no time zone
        {**contact("903"), "properties": "email=x"},  # wrong type
        contact("904", notes="x" * 1_100_000),  # oversized value
        {**contact("905"), "properties": {"email": "nul\x00@x.test"}},  # breaks Postgres JSON
        "{'id': 906, broken",  # broken JSON: a string where an object belongs
    ]
    search = portal.search

    def search_with_corpus(object_type: str, body: Any) -> Any:
        status, reply = search(object_type, body)
        if object_type == "contacts" and not body.get("after"):
            reply = {**reply, "results": [*reply["results"], *corpus]}
        return status, reply

    portal.search = search_with_corpus  # type: ignore[method-assign]
    try:
        hs = _settings(server)
        extract_stream("contacts", pg, hs, START - HOUR, START, "l0")  # set a cursor: search
        result = extract_stream("contacts", pg, hs, START, END, "l1")
        again = extract_stream("contacts", pg, hs, START, END, "l1")
    finally:
        server.stop()
    assert result.mode == "search"
    assert result.quarantined == len(corpus) and again.quarantined == len(corpus)
    assert _ids(pg, "raw.hubspot_contacts") == good
    with connect(pg) as conn:
        rows = conn.execute(
            "select record_id, reason, payload from leadflow.quarantine where load_id = 'l1'"
        ).fetchall()
    assert len(rows) == len(corpus)  # the re-run added no duplicates
    reasons = {rid: reason for rid, reason, _ in rows}
    assert "malformed id" in reasons["12x"] and "malformed id" in reasons["-4"]
    assert "malformed id" in reasons["99999999999999999999"]
    assert "invalid timestamp" in reasons["901"] and "time zone" in reasons["902"]
    assert "properties is not a JSON object" in reasons["903"]
    assert "oversized" in reasons["904"] and "NUL" in reasons["905"]
    assert "not a JSON object" in reasons[None]
    assert all(payload for _, _, payload in rows)


# -- secrets and budgets -----------------------------------------------------------------------


def test_access_token_never_appears_in_logs(pg, caplog, capfd) -> None:
    ensure_schema(pg)
    portal = Portal.generate(seed=9, contacts=300, now=NOW)
    server = _serve(portal, storm_429_every=9, error_rate_5xx=0.1)
    secret = server.config.token
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "leadflow", "urllib3"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        hs = _settings(server, backoff_s=0.01)
        results = _extract_all(pg, hs)
        with pytest.raises(Exception) as failed:
            extract_stream(
                "contacts", pg, _settings(server, token="pat-wrong-" + secret[8:]), START, END, "l2"
            )
    finally:
        server.stop()
        for name in ("httpx", "httpcore", "leadflow", "urllib3"):
            logging.getLogger(name).setLevel(logging.NOTSET)
    assert any(r.name.startswith("httpx") for r in caplog.records)  # DEBUG was really on
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    out, err = capfd.readouterr()
    dumped = json.dumps({s: r.as_dict() for s, r in results.items()})
    for text in (logged, out, err, dumped, str(failed.value), repr(hs)):
        assert secret not in text and secret[8:] not in text
    assert TOKEN  # the shared fixture token is unrelated to this test's


def test_budget_counts_requests_other_processes_spent_on_the_token() -> None:
    budget = RateBudget(per_10s=10, search_per_s=4)
    for _ in range(3):
        budget.acquire()
    # HubSpot says 8 of 10 are used: 5 went out from another process on the same token.
    budget.observe({"X-HubSpot-RateLimit-Max": "10", "X-HubSpot-RateLimit-Remaining": "2"})
    assert budget._wait_time(time.monotonic(), search=False) <= 0
    budget.acquire()
    budget.acquire()
    assert budget._wait_time(time.monotonic(), search=False) > 9
    # A lower tier than configured is learnt from the headers.
    lower = RateBudget(per_10s=190, search_per_s=4)
    lower.observe({"X-HubSpot-RateLimit-Max": "100", "X-HubSpot-RateLimit-Remaining": "99"})
    assert lower.per_10s == 100
    # A 429 pauses every thread of the budget.
    budget = RateBudget(per_10s=10, search_per_s=4)
    budget.pause(0.5)
    assert 0.4 < budget._wait_time(time.monotonic(), search=False) <= 0.5


# -- late and implausible events ---------------------------------------------------------------


def _event_ids(pg: PostgresSettings) -> set[str]:
    with connect(pg) as conn:
        return {r[0] for r in conn.execute("select id from raw.hubspot_events")}


def test_events_recorded_late_are_caught_by_the_lookback_and_the_rescan(pg) -> None:
    """HubSpot lists events by occurrence time only: an event recorded 90 minutes or a day
    after it occurred lies behind the cursor, and later hours must still find it."""
    ensure_schema(pg)
    portal = Portal()
    server = _serve(portal)
    try:
        hs = _settings(server)
        cid = portal.add_contact({"email": "late@acme.test"}, updated_at=EARLIER)
        on_time = portal.add_event("e_visited_page", cid, START + timedelta(minutes=5))
        assert extract_stream("events", pg, hs, START, END, "l1").changed == 1
        # Recorded after the hour's run, 90 minutes after it occurred.
        ninety = portal.add_event("e_visited_page", cid, END - timedelta(minutes=30))
        extract_stream("events", pg, hs, END, END + HOUR, "l2")
        assert _event_ids(pg) == {on_time, ninety}
        for hour in range(2, 24):
            extract_stream("events", pg, hs, END + (hour - 1) * HOUR, END + hour * HOUR, f"h{hour}")
        # Recorded a day after it occurred, when the hourly windows had long passed its hour.
        day_late = portal.add_event("e_submitted_form", cid, START + timedelta(minutes=20))
        result = extract_stream("events", pg, hs, END + 23 * HOUR, END + 24 * HOUR, "h24")
    finally:
        server.stop()
    assert result.changed == 1
    assert _event_ids(pg) == {on_time, ninety, day_late}


def test_events_with_implausible_dates_are_quarantined_once_with_a_reason(pg) -> None:
    ensure_schema(pg)
    portal = Portal()
    server = _serve(portal)
    try:
        hs = _settings(server)
        cid = portal.add_contact({"email": "odd@acme.test"}, updated_at=EARLIER)
        fine = portal.add_event("e_visited_page", cid, START + timedelta(minutes=5))
        old = portal.add_event("e_visited_page", cid, "1999-06-01T00:00:00Z")
        future = portal.add_event("e_visited_page", cid, "2099-01-01T00:00:00Z")
        first = extract_stream("events", pg, hs, START, END, "l1")  # the first load
        # Arriving after the first load, behind the cursor by 27 years.
        older = portal.add_event("e_visited_page", cid, "1999-07-01T00:00:00Z")
        second = extract_stream("events", pg, hs, END, END + HOUR, "l2")
    finally:
        server.stop()
    assert _event_ids(pg) == {fine}
    assert (first.quarantined, second.quarantined) == (2, 1)
    with connect(pg) as conn:
        reasons = dict(
            conn.execute(
                "select record_id, reason from leadflow.quarantine where stream = 'events'"
            ).fetchall()
        )
        (rows,) = conn.execute(
            "select count(*) from leadflow.quarantine where stream = 'events'"
        ).fetchone()
    assert rows == 3  # each once, although every run sees them again
    assert "before 2000-01-01" in reasons[old] and "before 2000-01-01" in reasons[older]
    assert "in the future" in reasons[future]
