"""What sales and marketing see in the CRM: every stage's reason, one hand-off note per SQL entry
(across re-runs and a push killed mid-write), and the nurture list's membership. The lead_sync
DAG under Airflow, real Postgres, dbt and GX, the sandbox over HTTP; the CRM is read back.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest

from leadflow import plan, sources
from leadflow.db import connect
from leadflow.local import run_lead_sync
from leadflow.transform import run_dbt, run_results_file

from .conftest import NOW, TOKEN
from .test_lead_sync_e2e import _crm_contact, _seed

DAY = timedelta(days=1)
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def people(sandbox, connections, airflow_home) -> dict[str, int]:
    """The end-to-end personas, plus a hand-raiser whose budget answer is no and one whose
    name is markup."""
    portal = sandbox.portal
    ids = _seed(portal)
    for key, props in {
        "no_budget": {"email": "cfo@acme-soft.com", "jobtitle": "VP Finance", "bant_budget": "no"},
        "markup": {
            "email": "head@acme-soft.com",
            "jobtitle": "Head of Marketing",
            "firstname": "<script>alert(1)</script>",
            "lastname": "O'Hara & <b>Co</b>",
        },
    }.items():
        ids[key] = portal.add_contact(
            {"country": "United States", "lifecyclestage": "lead", "lastname": "Test", **props},
            created_at=NOW - 60 * DAY,
            updated_at=NOW - 20 * DAY,
        )
        portal.associate("contacts", ids[key], "companies", _company(portal, ids), 1)
        portal.add_event(
            "e_submitted_form",
            ids[key],
            NOW - 2 * DAY,
            {"hs_form_id": "f-demo", "hs_form_title": "Demo request"},
        )
    return ids


def _company(portal, ids: dict[str, int]) -> int:
    """The hand-raiser's company (Acme)."""
    _, body = portal.read_object("contacts", str(ids["hand_raiser"]), associations=["companies"])
    return int(body["associations"]["companies"]["results"][0]["id"])


def _notes(sandbox, contact_id: int, kind: str = "notes") -> list[dict[str, Any]]:
    """The contact's notes (or tasks) as the CRM holds them, read through its associations."""
    url = f"{sandbox.url}/crm/v4/objects/contacts/{contact_id}/associations/{kind}"
    linked = httpx.get(url, headers=HEADERS).json()["results"]
    body = "hs_note_body" if kind == "notes" else "hs_task_subject"
    return [
        httpx.get(
            f"{sandbox.url}/crm/v3/objects/{kind}/{link['toObjectId']}",
            params={"properties": f"{body},hs_timestamp,hubspot_owner_id"},
            headers=HEADERS,
        ).json()["properties"]
        for link in linked
    ]


def _push_stats(connections, run_id: str) -> dict[str, Any]:
    with connect(connections) as conn:
        (stats,) = conn.execute(
            "select stats from leadflow.runs where run_id = %s", (run_id,)
        ).fetchone()
    return stats["push"]


def test_every_stage_says_why_in_the_crm(sandbox, people, connections):
    """The reason reaches the CRM: a budget 'no' says so, a lead gone cold says since when and
    what it was, an SQL names the hand-raise that qualified it."""
    assert run_lead_sync(NOW).state == "success"
    reasons = {
        key: _crm_contact(sandbox.url, cid)["leadflow_stage_reason"] for key, cid in people.items()
    }
    assert reasons["no_budget"] == "disqualified: budget answered 'no' (bant_budget)"
    assert re.fullmatch(
        r"nurture: no engagement since 2026-\d\d-\d\d \(\d+ days\), was .+", reasons["went_cold"]
    ), reasons["went_cold"]
    assert reasons["hand_raiser"].startswith("SQL: demo request on ")
    assert reasons["competitor"].startswith("disqualified: email domain belongs to a competitor")
    assert reasons["customer"].startswith("customer: closed-won deal on ")
    assert all(r and "{" not in r and "?" not in r for r in reasons.values()), reasons


def test_an_sql_gets_one_escaped_handoff_note_and_a_rerun_writes_none(
    sandbox, people, connections, monkeypatch
):
    monkeypatch.setenv("LEADFLOW_PUSH_HANDOFF_TASK", "true")
    dag_run = run_lead_sync(NOW)
    assert dag_run.state == "success"
    sqls = [
        k for k, cid in people.items() if _crm_contact(sandbox.url, cid)["leadflow_stage"] == "sql"
    ]
    assert {"hand_raiser", "markup"} <= set(sqls)
    for key in people:
        expected = 1 if key in sqls else 0
        assert len(_notes(sandbox, people[key])) == expected, key
        assert len(_notes(sandbox, people[key], "tasks")) == expected, key
    (note,) = _notes(sandbox, people["hand_raiser"])
    body = note["hs_note_body"]
    assert "Why now: SQL: demo request on" in body
    assert "form submitted: Demo request" in body  # the last touches
    assert "Pricing" in body and "BANT: budget -" in body and "Stage history:" in body
    assert f"leadflow ref {people['hand_raiser']}-sql-" in body
    (markup,) = _notes(sandbox, people["markup"])
    assert "<script" not in markup["hs_note_body"].lower()
    assert (
        "&lt;script&gt;alert(1)&lt;/script&gt; O&#39;Hara &amp; &lt;b&gt;Co&lt;/b&gt;"
        in (markup["hs_note_body"])
    )
    stats = _push_stats(connections, dag_run.run_id)
    assert stats["notes_written"] == stats["tasks_written"] == len(sqls)

    rerun = run_lead_sync(NOW + timedelta(hours=1))
    assert rerun.state == "success"
    stats = _push_stats(connections, rerun.run_id)
    assert stats["notes_written"] == stats["tasks_written"] == stats["activities_found"] == 0
    assert all(len(_notes(sandbox, people[k])) == 1 for k in sqls)


def test_a_push_killed_while_writing_notes_writes_none_twice(
    sandbox, people, connections, monkeypatch
):
    """The notes' batch is applied in the CRM, and the push is killed before it hears back: the
    next run finds each note by its reference line and writes none again."""
    monkeypatch.setenv("LEADFLOW_PUSH_HANDOFF_NOTES", "false")
    first = run_lead_sync(NOW)
    assert first.state == "success"
    assert _push_stats(connections, first.run_id)["notes_written"] == 0
    sqls = [
        cid for cid in people.values() if _crm_contact(sandbox.url, cid)["leadflow_stage"] == "sql"
    ]
    monkeypatch.setenv("LEADFLOW_PUSH_HANDOFF_NOTES", "true")
    planned = plan.writes(connections, sources.crm())
    assert sorted(a.contact_id for a in planned.activities) == sorted(sqls)
    assert f"{len(sqls)} hand-off notes, 0 tasks" in plan.format_writes(planned)

    portal = sandbox.portal
    create = portal.batch_create

    def applied_then_slow(object_type: str, body: Any):
        answer = create(object_type, body)
        if object_type == "notes":
            time.sleep(30)  # the answer never reaches the killed push
        return answer

    monkeypatch.setattr(portal, "batch_create", applied_then_slow)
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from leadflow import send, sources; from leadflow.settings import"
            " postgres_settings; send.push(postgres_settings(), sources.crm(), sys.argv[1])",
            first.run_id,
        ],
        env=dict(os.environ),
    )
    try:
        deadline = time.monotonic() + 120
        while not any(_notes(sandbox, cid) for cid in sqls):
            assert child.poll() is None, "the push ended before it wrote a note"
            assert time.monotonic() < deadline, "no note was written"
            time.sleep(0.2)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    monkeypatch.setattr(portal, "batch_create", create)
    with connect(connections) as conn:
        unconfirmed = conn.execute(
            "select count(*) from leadflow.crm_activities where object_id is null"
        ).fetchone()[0]
    assert unconfirmed == len(sqls)

    rerun = run_lead_sync(NOW + timedelta(hours=1))
    assert rerun.state == "success"
    stats = _push_stats(connections, rerun.run_id)
    assert stats["activities_found"] == len(sqls) and stats["notes_written"] == 0
    assert [len(_notes(sandbox, cid)) for cid in sqls] == [1] * len(sqls)
    with connect(connections) as conn:
        assert conn.execute(
            "select count(*) from leadflow.crm_activities where object_id is null"
        ).fetchone() == (0,)


def test_nurture_adds_to_the_list_and_requalifying_removes_and_writes_a_new_note(
    sandbox, people, connections, monkeypatch
):
    created = httpx.post(
        f"{sandbox.url}/crm/v3/lists",
        json={"name": "leadflow nurture", "objectTypeId": "0-1", "processingType": "MANUAL"},
        headers=HEADERS,
    ).json()
    list_id = created["list"]["listId"]
    monkeypatch.setenv("LEADFLOW_NURTURE_LIST_ID", list_id)

    def members() -> set[int]:
        url = f"{sandbox.url}/crm/v3/lists/{list_id}/memberships"
        return {int(m["recordId"]) for m in httpx.get(url, headers=HEADERS).json()["results"]}

    first = run_lead_sync(NOW)
    assert first.state == "success"
    nurtured = {
        cid
        for cid in people.values()
        if _crm_contact(sandbox.url, cid)["leadflow_stage"] == "nurture"
    }
    assert people["went_cold"] in nurtured
    assert members() == nurtured
    assert _push_stats(connections, first.run_id)["nurture_added"] == len(nurtured)

    # a new list set up by ops: the dry run shows every nurtured contact it would add
    fresh = httpx.post(
        f"{sandbox.url}/crm/v3/lists",
        json={"name": "re-engagement", "objectTypeId": "0-1", "processingType": "MANUAL"},
        headers=HEADERS,
    ).json()["list"]["listId"]
    monkeypatch.setenv("LEADFLOW_NURTURE_LIST_ID", fresh)
    planned = plan.writes(connections, sources.crm())
    assert sorted(planned.nurture.add) == sorted(nurtured)
    assert f"add to nurture list {fresh}" in plan.format_writes(planned)
    monkeypatch.setenv("LEADFLOW_NURTURE_LIST_ID", list_id)

    # the cold lead asks for a demo again: SQL, out of the list, and a note for this entry
    sandbox.portal.add_event(
        "e_submitted_form",
        people["went_cold"],
        NOW + timedelta(minutes=30),
        {"hs_form_id": "f-demo", "hs_form_title": "Demo request"},
    )
    later = NOW + timedelta(hours=1)
    sandbox.portal.clock = lambda: later
    second = run_lead_sync(later)
    assert second.state == "success"
    assert _crm_contact(sandbox.url, people["went_cold"])["leadflow_stage"] == "sql"
    assert people["went_cold"] not in members()
    assert _push_stats(connections, second.run_id)["nurture_removed"] == 1
    (note,) = _notes(sandbox, people["went_cold"])
    # composed by the hourly build's own lookups (the first build ranks every SQL's in one pass)
    assert "Why now: SQL: demo request on " in note["hs_note_body"]
    assert re.search(r"<li>\+\d+ demo request", note["hs_note_body"])  # its signals
    assert "form submitted: Demo request</li>" in note["hs_note_body"]  # its last touches

    # past var handoff_lookup_max_sqls new SQLs, an hourly build reads whole tables once
    # instead: the same note
    note_sql = "select note_body from marts.crm_handoff_notes where contact_id = %s"
    with connect(connections) as conn:
        (looked_up,) = conn.execute(note_sql, (people["went_cold"],)).fetchone()
        conn.execute(
            "delete from marts.crm_handoff_notes where contact_id = %s", (people["went_cold"],)
        )
    one_pass = ["run", "--select", "crm_handoff_notes", "--vars", "{handoff_lookup_max_sqls: -1}"]
    assert run_dbt(connections, one_pass, later) == 0
    compiled = run_results_file().with_name("compiled") / "leadflow/models/marts/crm"
    assert "ranked_touches" in (compiled / "crm_handoff_notes.sql").read_text()
    with connect(connections) as conn:
        assert conn.execute(note_sql, (people["went_cold"],)).fetchone() == (looked_up,)
