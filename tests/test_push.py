"""The push against the sandbox over real HTTP: diff, faults, a killed run, CRM rules, dry run.

The outgoing mart is written by hand here (same columns as marts.crm_outgoing_contacts), so
these tests exercise the push alone, in seconds, without dbt or Airflow.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from leadflow import plan, quality, send
from leadflow.db import connect, ensure_schema
from leadflow.settings import PostgresSettings, PushOptions
from leadflow.sources import PushPlan
from leadflow.sources.hubspot.client import HubSpotClient
from leadflow.sources.hubspot.sandbox import Portal, SandboxConfig, SandboxServer
from leadflow.sources.hubspot.settings import HubSpotSettings
from leadflow.sources.hubspot.writeback import HubSpotCrm, HubSpotSession

from .conftest import NOW, TOKEN

MART_DDL = """
    create schema if not exists marts;
    create table marts.crm_outgoing_contacts (
        contact_id bigint, email text, leadflow_stage text, lifecyclestage text,
        current_lifecyclestage text, leadflow_score integer, fit_score integer,
        engagement_score integer, leadflow_fit_grade text, leadflow_reasons text,
        leadflow_stage_entered_at timestamptz, leadflow_stage_reason text,
        disqualification_reason text, handoff_note_key text
    );
    create table marts.crm_handoff_notes (
        contact_id bigint, note_key text, owner_id text, sql_entered_at timestamptz,
        note_body text, task_subject text, task_body text, task_due_at timestamptz
    )
"""
STAGE_TO_LIFECYCLE = {
    "lead": "lead",
    "mql": "marketingqualifiedlead",
    "sql": "salesqualifiedlead",
    "nurture": None,
}
PROPS = [
    "lifecyclestage",
    "leadflow_stage",
    "leadflow_score",
    "leadflow_fit_grade",
    "leadflow_reasons",
    "leadflow_stage_entered_at",
    "leadflow_stage_reason",
]


class SendRecorder:
    """Wraps the portal's batch writes to count, per contact, every input the CRM received."""

    def __init__(self, portal: Portal) -> None:
        self.updates: Counter[str] = Counter()
        self.clears: Counter[str] = Counter()
        self.upserts: Counter[str] = Counter()
        update, upsert = portal.batch_update, portal.batch_upsert

        def recording_update(object_type: str, body: Any, **kw: Any) -> Any:
            for item in body.get("inputs", []):
                props = item.get("properties") or {}
                target = self.clears if props == {"lifecyclestage": ""} else self.updates
                target[str(item.get("id"))] += 1
            return update(object_type, body, **kw)

        def recording_upsert(object_type: str, body: Any, **kw: Any) -> Any:
            self.upserts.update(str(i.get("id")) for i in body.get("inputs", []))
            return upsert(object_type, body, **kw)

        portal.batch_update = recording_update  # type: ignore[method-assign]
        portal.batch_upsert = recording_upsert  # type: ignore[method-assign]


def _mart(pg: PostgresSettings) -> None:
    ensure_schema(pg)
    with connect(pg) as conn:
        conn.execute(MART_DDL)


def _add_contacts(portal: Portal, n: int, stage: str = "lead", prefix: str = "c") -> list[int]:
    return [
        portal.add_contact(
            {"email": f"{prefix}{i}@example.com", "lifecyclestage": stage},
            created_at=NOW - timedelta(days=30),
            updated_at=NOW - timedelta(days=1),
        )
        for i in range(n)
    ]


def _row(cid: int, stage: str = "mql", score: int = 50, **over: Any) -> dict[str, Any]:
    row = {
        "contact_id": cid,
        "email": f"{cid}@example.com",
        "leadflow_stage": stage,
        "lifecyclestage": STAGE_TO_LIFECYCLE.get(stage),
        "current_lifecyclestage": "lead",
        "leadflow_score": score,
        "fit_score": score,
        "engagement_score": score,
        "leadflow_fit_grade": "B",
        "leadflow_reasons": f"+{score} demo request",
        "leadflow_stage_entered_at": NOW - timedelta(hours=1),
        "leadflow_stage_reason": f"{stage.upper()}: score {score} >= 50",
        "disqualification_reason": None,
    }
    return {**row, **over}


def _fill(pg: PostgresSettings, rows: list[dict[str, Any]]) -> None:
    with connect(pg) as conn:
        conn.execute("truncate marts.crm_outgoing_contacts")
        cols = list(rows[0])
        with conn.cursor().copy(
            f"copy marts.crm_outgoing_contacts ({', '.join(cols)}) from stdin"
        ) as copy:
            for r in rows:
                copy.write_row([r[c] for c in cols])


def _validated(pg: PostgresSettings, run_id: str) -> None:
    """What the outgoing gate does when it passes: seal the list as it is for the run."""
    with quality.outgoing_locked(pg) as conn:
        quality.seal_outgoing(conn, run_id)


def _push(pg: PostgresSettings, hs: HubSpotSettings, run_id: str, *args: Any, **kw: Any):
    """A push after a passed gate (the tests write the mart themselves)."""
    _validated(pg, run_id)
    return send.push(pg, HubSpotCrm(hs), run_id, *args, **kw)


def _crm(portal: Portal, ids: list[int]) -> dict[int, dict[str, Any]]:
    out = {}
    for cid in ids:
        props = portal.get_object("contacts", cid)["properties"]
        out[cid] = {k: props.get(k) for k in PROPS}
    return out


def _one(pg: PostgresSettings, sql: str, *args: Any) -> Any:
    with connect(pg) as conn:
        row = conn.execute(sql, args).fetchone()
    return row[0] if row else None


@pytest.fixture
def mart(pg: PostgresSettings) -> PostgresSettings:
    _mart(pg)
    return pg


@pytest.fixture
def new_db(pg_server: PostgresSettings) -> Iterator[Callable[[], PostgresSettings]]:
    """Extra empty databases, for a clean run to compare with."""
    made: list[str] = []

    def make() -> PostgresSettings:
        name = f"t_extra_{len(made)}_{os.getpid()}_{time.monotonic_ns() % 10**8}"
        with psycopg.connect(**pg_server.conninfo(), autocommit=True) as conn:
            conn.execute(f'create database "{name}"')
        made.append(name)
        return PostgresSettings(host=pg_server.host, port=pg_server.port, dbname=name)

    yield make
    with psycopg.connect(**pg_server.conninfo(), autocommit=True) as conn:
        for name in made:
            conn.execute(f'drop database if exists "{name}" with (force)')


def test_only_changes_are_sent_and_an_identical_rerun_sends_nothing(
    sandbox: SandboxServer, hs: HubSpotSettings, mart: PostgresSettings
) -> None:
    ids = _add_contacts(sandbox.portal, 250)
    rows = [_row(cid, "sql" if i % 10 == 0 else "mql", 40 + i % 50) for i, cid in enumerate(ids)]
    _fill(mart, rows)
    sent = SendRecorder(sandbox.portal)
    first = _push(mart, hs, "run-1", PushOptions())
    assert (first.changed, first.pushed, first.failed, first.batches) == (250, 250, 0, 3)
    assert first.new_sql == 25
    assert set(sent.updates.values()) == {1}
    assert _crm(sandbox.portal, ids[:1])[ids[0]]["lifecyclestage"] == "salesqualifiedlead"

    second = _push(mart, hs, "run-2", PushOptions())
    assert (second.changed, second.pushed, second.batches) == (0, 0, 0)
    assert sum(sent.updates.values()) == 250

    rows[3]["leadflow_score"] = 99
    rows[7]["leadflow_reasons"] = "+40 pricing page"
    _fill(mart, rows)
    third = _push(mart, hs, "run-3", PushOptions())
    assert (third.changed, third.pushed, third.batches) == (2, 2, 1)
    assert sent.updates[str(ids[3])] == 2 and sent.updates[str(ids[0])] == 1
    assert _one(mart, "select count(*) from leadflow.push_log where run_id = 'run-3'") == 2
    with connect(mart) as conn:
        before, after = conn.execute(
            "select before, after from leadflow.push_log where run_id = 'run-3'"
            " and contact_id = %s",
            (ids[3],),
        ).fetchone()
    assert before["leadflow_score"] == str(40 + 3) and after["leadflow_score"] == "99"


def test_partial_failures_are_logged_per_row_and_retried_until_they_land(
    sandbox: SandboxServer, hs: HubSpotSettings, mart: PostgresSettings
) -> None:
    ids = _add_contacts(sandbox.portal, 300)
    _fill(mart, [_row(cid, "mql", 60) for cid in ids])
    sent = SendRecorder(sandbox.portal)
    sandbox.config = SandboxConfig(
        token=TOKEN, batch_failure_rate=0.2, error_rate_5xx=0.1, storm_429_every=25, fault_seed=7
    )
    first = _push(mart, hs, "faulty-1", PushOptions())
    assert first.failed > 20 and first.pushed + first.failed == 300
    with connect(mart) as conn:
        errors = conn.execute(
            "select contact_id, error from leadflow.push_log"
            " where run_id = 'faulty-1' and status = 'error'"
        ).fetchall()
    assert len(errors) == first.failed
    assert all("injected failure" in e for _, e in errors)
    failed_ids = {cid for cid, _ in errors}

    # The data did not change, yet the rejected rows (and only they) go again next run.
    sent.updates.clear()
    second = _push(mart, hs, "faulty-2", PushOptions())
    assert second.changed == first.failed
    assert {int(k) for k in sent.updates} == failed_ids

    sandbox.config = SandboxConfig(token=TOKEN)
    runs = 0
    while _one(mart, "select count(*) from leadflow.push_state") < 300:
        runs += 1
        assert _push(mart, hs, f"clean-{runs}", PushOptions()).failed == 0
    crm = _crm(sandbox.portal, ids)
    assert all(c["leadflow_stage"] == "mql" and c["leadflow_score"] == "60" for c in crm.values())
    last = _push(mart, hs, "after", PushOptions())
    assert (last.changed, last.batches) == (0, 0)


def _push_in_subprocess(
    pg: PostgresSettings, hs: HubSpotSettings, run_id: str, workers: int
) -> subprocess.Popen[str]:
    """A push in a process of its own, to be killed or to lose its database; it prints
    `failed: <error type>` if the push raises."""
    code = (
        "import json, sys\n"
        "from leadflow.send import push\n"
        "from leadflow.settings import PostgresSettings, PushOptions\n"
        "from leadflow.sources.hubspot.settings import HubSpotSettings\n"
        "from leadflow.sources.hubspot.writeback import HubSpotCrm\n"
        "pg = PostgresSettings(**json.loads(sys.argv[1]))\n"
        "hs = HubSpotSettings(**json.loads(sys.argv[2]))\n"
        "try:\n"
        f"    push(pg, HubSpotCrm(hs), {run_id!r}, PushOptions(workers={workers}))\n"
        "except Exception as exc:\n"
        "    print('failed:', type(exc).__name__)\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code, json.dumps(asdict(pg)), json.dumps(asdict(hs))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_push_killed_mid_run_then_rerun_sends_each_change_once_and_ends_like_a_clean_run(
    sandbox: SandboxServer,
    hs: HubSpotSettings,
    mart: PostgresSettings,
    new_db: Callable[[], PostgresSettings],
) -> None:
    n = 1000
    ids = _add_contacts(sandbox.portal, n)
    rows = [_row(cid, ("mql", "sql", "lead")[i % 3], i % 101) for i, cid in enumerate(ids)]
    _fill(mart, rows)
    sent = SendRecorder(sandbox.portal)
    sandbox.config = SandboxConfig(token=TOKEN, latency_ms=40, error_rate_5xx=0.03)

    _validated(mart, "killed")
    proc = _push_in_subprocess(mart, hs, "killed", workers=2)
    deadline = time.monotonic() + 60
    while _one(mart, "select count(*) from leadflow.push_state") < 300:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)  # no cleanup, no callbacks: like the OOM killer
    proc.wait()
    done = _one(mart, "select count(*) from leadflow.push_state")
    in_flight = _one(mart, "select count(*) from leadflow.push_inflight")
    assert 300 <= done < n and in_flight > 0

    sandbox.config = SandboxConfig(token=TOKEN, error_rate_5xx=0.03)
    # the killed run's last request may still land (40 ms latency): recovery waits 1 s for it
    rerun = _push(mart, hs, "rerun", PushOptions(workers=2, inflight_settle_s=1.0))
    assert rerun.failed == 0
    print(f"killed after {done} rows with {in_flight} in flight; rerun {rerun.as_dict()}")
    assert rerun.changed == n - done - rerun.recovered
    assert _one(mart, "select count(*) from leadflow.push_inflight") == 0
    # Each change reached the CRM exactly once over both runs, in flight or not.
    assert len(sent.updates) == n and set(sent.updates.values()) == {1}
    again = _push(mart, hs, "again", PushOptions())
    assert again.changed == 0

    # A clean, uninterrupted run on an identical portal ends in the same CRM state.
    clean_portal = Portal()
    clean_portal.clock = lambda: NOW
    clean_ids = _add_contacts(clean_portal, n)
    assert clean_ids == ids
    clean_pg = new_db()
    _mart(clean_pg)
    _fill(clean_pg, rows)
    with SandboxServer(clean_portal, SandboxConfig(token=TOKEN), port=0) as clean:
        clean_hs = HubSpotSettings(
            base_url=clean.url, token=TOKEN, rate_limit_per_10s=1000, search_rate_per_s=100
        )
        assert _push(clean_pg, clean_hs, "clean", PushOptions()).pushed == n
    assert _crm(sandbox.portal, ids) == _crm(clean_portal, ids)


def test_lifecycle_moves_forward_recycles_by_clear_then_set_and_never_downgrades_customers(
    sandbox: SandboxServer, hs: HubSpotSettings, mart: PostgresSettings
) -> None:
    portal = sandbox.portal
    (forward,) = _add_contacts(portal, 1, "lead", "fwd")
    (ahead,) = _add_contacts(portal, 1, "opportunity", "opp")
    (customer,) = _add_contacts(portal, 1, "customer", "cus")
    (recycled,) = _add_contacts(portal, 1, "salesqualifiedlead", "rec")
    _fill(
        mart,
        [
            _row(forward, "sql"),
            _row(ahead, "sql", current_lifecyclestage="opportunity"),
            _row(customer, "nurture", current_lifecyclestage="customer"),
            _row(recycled, "nurture", current_lifecyclestage="salesqualifiedlead"),
        ],
    )
    sent = SendRecorder(portal)
    stats = _push(
        mart, hs, "life", PushOptions(allow_lifecycle_reset=True, reset_targets={"nurture": "lead"})
    )
    assert (stats.pushed, stats.failed, stats.cleared) == (4, 0, 1)
    crm = _crm(portal, [forward, ahead, customer, recycled])
    assert crm[forward]["lifecyclestage"] == "salesqualifiedlead"
    assert crm[ahead]["lifecyclestage"] == "opportunity"
    assert crm[customer]["lifecyclestage"] == "customer"
    assert crm[recycled]["lifecyclestage"] == "lead"
    assert crm[recycled]["leadflow_stage"] == "nurture"
    assert dict(sent.clears) == {str(recycled): 1}
    with connect(mart) as conn:
        notes = dict(
            conn.execute("select contact_id, note from leadflow.push_log where run_id = 'life'")
        )
    assert "never downgraded" in notes[customer]
    assert "cleared then set" in notes[recycled]
    assert "moves forward only" in notes[ahead]


def _decided(
    session: HubSpotSession, current: str, after: dict[str, Any], options: PushOptions
) -> PushPlan:
    """The payload HubSpot's rules give `after` for a contact the CRM holds at `current`."""
    planned = PushPlan(1, None, current, None, after)
    session.decide(planned, options)
    return planned


def test_unknown_read_only_and_invalid_values_are_never_sent(hs: HubSpotSettings) -> None:
    with HubSpotClient(hs) as client:
        session = HubSpotSession(client)
        session.prepare(create_missing=False)
    after = {
        "leadflow_stage": "sql",
        "leadflow_fit_grade": "Z",
        "hs_object_id": "123",
        "createdate": "2026-01-01T00:00:00Z",
        "no_such_property": "x",
        "lifecyclestage": "salesqualifiedlead",
    }
    decided = _decided(session, "lead", after, PushOptions())
    assert decided.payload == {"leadflow_stage": "sql", "lifecyclestage": "salesqualifiedlead"}
    notes = " | ".join(decided.notes)
    for name in ("hs_object_id", "createdate", "no_such_property", "leadflow_fit_grade"):
        assert name in notes
    # Backward without intent, and no reset for a customer even when resets are on.
    assert "lifecyclestage" not in _decided(session, "opportunity", after, PushOptions()).payload
    on = PushOptions(allow_lifecycle_reset=True)
    nurture = {"leadflow_stage": "nurture"}
    assert "lifecyclestage" not in _decided(session, "customer", nurture, on).payload
    assert "lifecyclestage" not in _decided(session, "opportunity", nurture, PushOptions()).payload
    recycle = _decided(session, "opportunity", nurture, on)
    assert recycle.clear_lifecycle and recycle.payload["lifecyclestage"] == "lead"


def test_contacts_missing_from_the_crm_are_upserted_by_email_only_when_configured(
    sandbox: SandboxServer, hs: HubSpotSettings, mart: PostgresSettings
) -> None:
    (existing,) = _add_contacts(sandbox.portal, 1)
    gone = 987_654_321
    _fill(mart, [_row(existing, "mql"), _row(gone, "sql", email="brand.new@example.com")])
    off = _push(mart, hs, "no-create", PushOptions())
    assert (off.pushed, off.failed) == (1, 1)
    assert "OBJECT_NOT_FOUND" in off.sample_errors[str(gone)]

    on = _push(mart, hs, "create", PushOptions(create_missing=True))
    assert (on.changed, on.pushed, on.created, on.failed) == (1, 1, 1, 0)
    found = sandbox.portal.search(
        "contacts",
        {
            "filterGroups": [
                {
                    "filters": [
                        {
                            "propertyName": "email",
                            "operator": "EQ",
                            "value": "brand.new@example.com",
                        }
                    ]
                }
            ],
            "properties": PROPS,
        },
    )[1]["results"]
    assert len(found) == 1
    assert found[0]["properties"]["leadflow_stage"] == "sql"
    assert found[0]["properties"]["lifecyclestage"] == "salesqualifiedlead"
    status, note = _one_row(
        mart, "select status, note from leadflow.push_log where run_id = 'create'"
    )
    assert status == "created" and "upserted by email" in note


def test_a_missing_contact_whose_email_another_contact_has_is_never_upserted(
    sandbox: SandboxServer, hs: HubSpotSettings, mart: PostgresSettings
) -> None:
    """Two contacts of the list share an email (" dup@x " and "dup@x" read alike): the one the
    CRM lacks must not be upserted by that email, or it would overwrite the other one."""
    (existing,) = _add_contacts(sandbox.portal, 1, prefix="dup")
    email = sandbox.portal.get_object("contacts", existing)["properties"]["email"]
    gone = 987_654_321
    _fill(mart, [_row(existing, "mql", email=email), _row(gone, "sql", 90, email=email)])
    planned = {
        p.contact_id: p for p in plan.plan(mart, HubSpotCrm(hs), PushOptions(create_missing=True))
    }
    assert planned[gone].action == "update" and "never upserted" in " ".join(planned[gone].notes)

    stats = _push(mart, hs, "shared", PushOptions(create_missing=True))
    assert (stats.pushed, stats.created, stats.failed) == (1, 0, 1)
    assert "is the email of other contacts" in stats.sample_errors[str(gone)]
    crm = _crm(sandbox.portal, [existing])[existing]
    assert (crm["leadflow_stage"], crm["leadflow_score"]) == ("mql", "50")


def _one_row(pg: PostgresSettings, sql: str) -> tuple[Any, ...]:
    with connect(pg) as conn:
        row = conn.execute(sql).fetchone()
    assert row is not None
    return tuple(row)


def test_plan_explains_each_contact_and_sends_nothing(
    sandbox: SandboxServer, hs: HubSpotSettings, mart: PostgresSettings
) -> None:
    (forward,) = _add_contacts(sandbox.portal, 1, "lead", "fwd")
    (ahead,) = _add_contacts(sandbox.portal, 1, "opportunity", "opp")
    _fill(
        mart,
        [
            _row(forward, "sql", 81),
            _row(ahead, "sql", current_lifecyclestage="opportunity"),
            _row(555_555_555, "mql", email="new@example.com"),
        ],
    )
    plans = plan.plan(mart, HubSpotCrm(hs), PushOptions(create_missing=True))
    text = plan.format_plan(plans)
    assert [p.action for p in plans] == ["update", "update", "create"]
    assert f"update contact {forward}  stage - -> sql" in text
    assert "lifecyclestage lead -> salesqualifiedlead" in text
    assert "moves forward only" in text and "+81 demo request" in text
    assert "3 changed contacts: 1 create, 2 update, 0 skip; nothing was sent" in text
    writes = [p for m, p, _ in sandbox.portal.request_log if m == "POST" and "/batch/" in p]
    assert all(p.endswith("/batch/read") for p in writes)
    assert _one(mart, "select count(*) from leadflow.push_state") == 0


def _history(pg: PostgresSettings, changed: list[int], new_sql: int = 1, tag: str = "") -> None:
    with connect(pg) as conn:
        for i, n in enumerate(changed):
            conn.execute(
                "insert into leadflow.runs (run_id, interval_start, interval_end, status,"
                " finished_at, stats) values (%s, now(), now(), 'success', now() - %s * interval"
                " '1 hour', %s)",
                (f"old-{tag}{i}", i + 1, json.dumps({"push": {"changed": n, "new_sql": new_sql}})),
            )


def test_volume_circuit_breaker_blocks_an_outsized_push_unless_forced(
    mart: PostgresSettings,
) -> None:
    _fill(mart, [_row(i, "sql" if i % 2 else "mql") for i in range(1, 301)])
    settings = quality.BreakerSettings(factor=3, min_rows=50, min_new_sqls=20, min_history=3)
    with connect(mart) as conn:  # a CRM pushed to before (the first push is tested below)
        conn.execute("insert into leadflow.push_state values (0, '{}', now(), 'earlier')")

    _history(mart, [10, 12])  # too little history: compared with what the CRM holds
    with pytest.raises(quality.VolumeBreakerTripped, match="300 contacts moving into MQL or SQL"):
        quality.check_volume(mart, "young", settings=settings)
    _fill(mart, [_row(i, "sql" if i < 30 else "lead") for i in range(1, 301)])
    assert not quality.check_volume(mart, "young", settings=settings).tripped  # 29 of 300
    _fill(mart, [_row(i, "sql" if i % 2 else "mql") for i in range(1, 301)])

    _history(mart, [10, 12, 11], tag="more-")
    with pytest.raises(quality.VolumeBreakerTripped) as tripped:
        quality.check_volume(mart, "spike", settings=settings)
    assert "300 changed rows (limit 50" in str(tripped.value)
    assert "150 new SQLs (limit 20" in str(tripped.value)
    assert tripped.value.bad_rows == 300
    success, details = _one_row(
        mart,
        "select success, details from leadflow.quality_results"
        " where run_id = 'spike' and suite = 'volume_circuit_breaker'",
    )
    assert success is False and details[0]["tripped"] is True

    forced = quality.check_volume(mart, "forced", force=True, settings=settings)
    assert forced.tripped and forced.forced
    assert (
        _one(
            mart,
            "select success from leadflow.quality_results where run_id = 'forced'",
        )
        is True
    )


def test_the_dags_dry_run_logs_the_plan_and_sends_nothing(
    sandbox: SandboxServer, connections: PostgresSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadflow import pipeline

    _mart(connections)
    (cid,) = _add_contacts(sandbox.portal, 1)
    _fill(connections, [_row(cid, "sql", 77)])
    ctx = pipeline.RunContext("dry", NOW - timedelta(hours=1), NOW)
    logged: list[str] = []
    monkeypatch.setattr(pipeline.log, "info", lambda msg, *args: logged.append(msg % args))
    result = pipeline.push_back(ctx, dry_run=True)
    assert result == {"dry_run": True, "create": 0, "update": 1, "skip": 0}
    assert f"update contact {cid}  stage - -> sql" in logged[0]
    assert "nothing was sent" in logged[0]
    assert not any(p.endswith("/batch/update") for _, p, _ in sandbox.portal.request_log)


def test_the_gate_holds_the_outgoing_list_still_while_it_checks_and_seals_it(
    mart: PostgresSettings,
) -> None:
    _fill(mart, [_row(1), _row(2)])
    with quality.outgoing_locked(mart) as conn:
        with psycopg.connect(**mart.conninfo()) as writer:
            writer.execute("set lock_timeout = '200ms'")
            with pytest.raises(psycopg.errors.LockNotAvailable):
                writer.execute("update marts.crm_outgoing_contacts set leadflow_score = 1")
        with psycopg.connect(**mart.conninfo()) as reader:  # GX's reads go through
            assert (
                reader.execute("select count(*) from marts.crm_outgoing_contacts").fetchone()[0]
                == 2
            )
        quality.seal_outgoing(conn, "r1")
    with connect(mart) as conn:
        quality.verify_validated(conn, "r1")
        conn.execute("update marts.crm_outgoing_contacts set leadflow_score = 99")
        with pytest.raises(quality.OutgoingChanged, match="changed after the gate validated"):
            quality.verify_validated(conn, "r1")
        with pytest.raises(quality.OutgoingChanged, match="no validated outgoing list"):
            quality.verify_validated(conn, "r2")


def test_a_postgres_outage_mid_push_fails_cleanly(sandbox: SandboxServer, tmp_path) -> None:
    """Postgres dies while the push reads its rows: the push fails with the connection error
    and nothing else. (A server-side cursor closed after the connection was gone used to print
    a raw traceback to stderr, past the CLI's error handling.)"""
    from leadflow.local import start_embedded_postgres, stop_embedded_postgres

    data = tmp_path / "pg"
    pg = start_embedded_postgres(data, dbname="outage")
    try:
        _mart(pg)
        ids = _add_contacts(sandbox.portal, 600)
        _fill(pg, [_row(cid) for cid in ids])
        _validated(pg, "outage")
        sandbox.config = SandboxConfig(token=TOKEN, latency_ms=150)
        hs = HubSpotSettings(base_url=sandbox.url, token=TOKEN, rate_limit_per_10s=1000)
        proc = _push_in_subprocess(pg, hs, "outage", workers=1)
        deadline = time.monotonic() + 60
        while not any(p.endswith("/batch/update") for _, p, _ in sandbox.portal.request_log):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.02)
        postmaster = int((data / "postmaster.pid").read_text().split()[0])
        os.kill(postmaster, signal.SIGQUIT)  # an immediate shutdown, as in a crash
        out, err = proc.communicate(timeout=60)
    finally:
        stop_embedded_postgres(data)
    assert "failed: OperationalError" in out or "failed: ServiceUnreachable" in out, out + err
    assert "Traceback" not in err and "Exception ignored" not in err, err
