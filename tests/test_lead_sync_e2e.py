"""End to end: a seeded portal, the lead_sync DAG run by Airflow (dag.test), and the CRM's
contacts read back over HTTP. Real Postgres, real dbt, real GX, real HTTP; nothing mocked.
"""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from leadflow.db import connect
from leadflow.local import run_lead_sync
from leadflow.settings import REPO_ROOT
from leadflow.sources.hubspot.writeback import CUSTOM_PROPERTIES

from .conftest import NOW, TOKEN
from .test_alerts import alert_inbox  # noqa: F401 (fixture)

DAY = timedelta(days=1)
CUSTOM_PROPERTY_NAMES = [p["name"] for p in CUSTOM_PROPERTIES]


def _seed(portal) -> dict[str, int]:
    """Leads whose right stage a person can tell at a glance."""
    acme = portal.add_company(
        {
            "name": "Acme Software",
            "domain": "acme-soft.com",
            "industry": "COMPUTER_SOFTWARE",
            "numberofemployees": "800",
            "annualrevenue": "90000000",
            "country": "United States",
        },
        created_at=NOW - 90 * DAY,
        updated_at=NOW - 30 * DAY,
    )
    shop = portal.add_company(
        {
            "name": "Tiny Shop",
            "domain": "tinyshop.example",
            "industry": "RETAIL",
            "numberofemployees": "2",
            "country": "Brazil",
        },
        created_at=NOW - 90 * DAY,
        updated_at=NOW - 30 * DAY,
    )

    def contact(key: str, email: str, title: str, company: int | None, **props: str) -> int:
        cid = portal.add_contact(
            {
                "email": email,
                "firstname": key.title(),
                "lastname": "Test",
                "jobtitle": title,
                "country": "United States",
                "lifecyclestage": "lead",
                **props,
            },
            created_at=NOW - 60 * DAY,
            updated_at=NOW - 20 * DAY,
        )
        if company:
            portal.associate("contacts", cid, "companies", company, 1)
        return cid

    ids = {
        "hand_raiser": contact("hand_raiser", "vp@acme-soft.com", "VP of Marketing", acme),
        "already_opportunity": contact(
            "already_opportunity", "cto@acme-soft.com", "CTO", acme, lifecyclestage="opportunity"
        ),
        "student": contact("student", "kim@state.edu", "Student", None),
        "competitor": contact("competitor", "spy@hubspot.com", "Marketing Manager", None),
        "poor_fit": contact("poor_fit", "joe.shop@gmail.com", "Intern", shop),
        "went_cold": contact("went_cold", "dir@acme-soft.com", "Director of IT", acme),
        "customer": contact(
            "customer", "ceo@acme-soft.com", "CEO", acme, lifecyclestage="customer"
        ),
        "unknown": contact("unknown", "someone@unknown-co.example", "", None),
    }
    deal = portal.add_deal(
        {
            "dealname": "Acme expansion",
            "amount": "50000",
            "dealstage": "closedwon",
            "pipeline": "default",
            "closedate": (NOW - 10 * DAY).isoformat(),
        },
        created_at=NOW - 40 * DAY,
        updated_at=NOW - 10 * DAY,
    )
    portal.associate("deals", deal, "contacts", ids["customer"], 3)
    portal.associate("deals", deal, "companies", acme, 5)

    # the form's submissions show in the forms API on every tier, and in events v3 on Enterprise
    portal.define_form("f-demo", "Demo request", "https://www.example.com/demo")

    def demo_request(cid: int, when) -> None:
        portal.add_event(
            "e_submitted_form", cid, when, {"hs_form_id": "f-demo", "hs_form_title": "Demo request"}
        )

    for key in ("hand_raiser", "already_opportunity", "student", "competitor", "poor_fit"):
        demo_request(ids[key], NOW - 2 * DAY)
        for days in (1, 3, 5):
            portal.add_event(
                "e_visited_page",
                ids[key],
                NOW - days * DAY,
                {"hs_url": "https://www.example.com/pricing", "hs_page_title": "Pricing"},
            )
    demo_request(ids["went_cold"], NOW - 150 * DAY)
    # marketing email to an address no contact has: kept and counted, not scored
    portal.record_email_event(
        {
            "recipient": "old-list@nowhere.example",
            "type": "OPEN",
            "emailCampaignId": 7,
            "created": (NOW - 3 * DAY).isoformat(),
        }
    )
    return ids


def _crm_contact(url: str, cid: int) -> dict[str, str | None]:
    props = ",".join(["lifecyclestage", *CUSTOM_PROPERTY_NAMES])
    response = httpx.get(
        f"{url}/crm/v3/objects/contacts/{cid}",
        params={"properties": props},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    response.raise_for_status()
    return response.json()["properties"]


def _updates_sent(sandbox) -> int:
    return sum(
        1
        for method, path, _ in sandbox.portal.request_log
        if method == "POST" and path.endswith("/batch/update")
    )


@pytest.fixture
def seeded(sandbox, connections, airflow_home):
    return _seed(sandbox.portal)


# The same leads get the same stages on every tier: a hand-raise arrives through the forms API
# below Enterprise, and through it and events v3 (counted once) on Enterprise.
EXPECTED_STAGES = {
    "hand_raiser": "sql",
    "already_opportunity": "sql",
    "student": "disqualified",
    "competitor": "disqualified",
    "poor_fit": "disqualified",
    "went_cold": "nurture",
    "customer": "customer",
    "unknown": "suspect",
}


@pytest.mark.parametrize("tier", ["professional", "enterprise"])
def test_lead_sync_qualifies_pushes_and_a_rerun_pushes_nothing(sandbox, seeded, connections, tier):
    ids = seeded
    sandbox.config.tier = tier
    dag_run = run_lead_sync(NOW)
    assert dag_run.state == "success"

    crm = {key: _crm_contact(sandbox.url, cid) for key, cid in ids.items()}
    assert {key: props["leadflow_stage"] for key, props in crm.items()} == EXPECTED_STAGES

    hand_raiser = crm["hand_raiser"]
    assert hand_raiser["lifecyclestage"] == "salesqualifiedlead"
    assert hand_raiser["leadflow_fit_grade"] in {"A", "B"}
    assert 0 <= int(hand_raiser["leadflow_score"]) <= 100
    assert "demo" in hand_raiser["leadflow_reasons"].lower()
    assert hand_raiser["leadflow_stage_entered_at"]

    # Never backwards: sales already made this one an opportunity in the CRM.
    assert crm["already_opportunity"]["lifecyclestage"] == "opportunity"
    assert crm["customer"]["leadflow_stage"] == "customer"
    assert crm["customer"]["lifecyclestage"] == "customer"
    assert crm["student"]["leadflow_stage"] == "disqualified"
    assert crm["competitor"]["leadflow_stage"] == "disqualified"
    assert crm["student"]["lifecyclestage"] == "lead"  # detours leave the lifecycle alone
    assert crm["poor_fit"]["leadflow_stage"] not in {"sql", "mql"}
    assert crm["went_cold"]["leadflow_stage"] not in {"sql", "mql"}
    assert crm["unknown"]["leadflow_stage"] == "suspect"

    with connect(connections) as conn:
        status, stats = conn.execute(
            "select status, stats from leadflow.runs where run_id = %s", (dag_run.run_id,)
        ).fetchone()
        checks = conn.execute(
            "select bool_and(success), count(*) from leadflow.quality_results where run_id = %s",
            (dag_run.run_id,),
        ).fetchone()
    assert status == "success"
    assert stats["push"]["pushed"] == len(ids)
    assert stats["push"]["sql_pushed"] == 2
    assert stats["unattributed"] == {"email_event:OPEN": 1}
    assert checks == (True, 5)  # 4 GX suites + the volume circuit breaker verdict

    sent_before = _updates_sent(sandbox)
    rerun = run_lead_sync(NOW)
    assert rerun.state == "success"
    assert _updates_sent(sandbox) == sent_before
    with connect(connections) as conn:
        (stats,) = conn.execute(
            "select stats from leadflow.runs where run_id = %s", (rerun.run_id,)
        ).fetchone()
    assert stats["push"]["changed"] == 0


def test_below_enterprise_the_run_goes_on_without_events_v3(sandbox, seeded, connections):
    """A Professional portal refuses events v3 (403): the events stream is skipped with the
    reason, everything else runs and pushes, and the hand-raise comes from the forms API. Once
    the portal has Enterprise, the next run reads its events from the start, since the skipped
    stream's cursor never moved: the pricing-page views add to the score, the demo request seen
    in both APIs still counts once."""
    sandbox.config.tier = "professional"
    dag_run = run_lead_sync(NOW)
    assert dag_run.state == "success"
    with connect(connections) as conn:
        (stats,) = conn.execute(
            "select stats from leadflow.runs where run_id = %s", (dag_run.run_id,)
        ).fetchone()
        cursor = conn.execute(
            "select count(*) from leadflow.stream_state where stream = 'events'"
        ).fetchone()[0]
    (events,) = [e for e in stats["extract"] if e["stream"] == "events"]
    assert events["mode"] == "unavailable" and events["received"] == 0
    assert "HTTP 403 MISSING_SCOPES" in events["unavailable"]
    assert "Enterprise" in events["unavailable"]
    assert cursor == 0
    assert stats["push"]["pushed"] == len(seeded)
    assert _crm_contact(sandbox.url, seeded["customer"])["leadflow_stage"] == "customer"
    before = _crm_contact(sandbox.url, seeded["hand_raiser"])
    assert before["leadflow_stage"] == "sql"

    sandbox.config.tier = "enterprise"
    upgraded = run_lead_sync(NOW + timedelta(hours=1))
    assert upgraded.state == "success"
    after = _crm_contact(sandbox.url, seeded["hand_raiser"])
    assert after["leadflow_stage"] == "sql"
    assert int(after["leadflow_score"]) > int(before["leadflow_score"])
    with connect(connections) as conn:
        (stats,) = conn.execute(
            "select stats from leadflow.runs where run_id = %s", (upgraded.run_id,)
        ).fetchone()
        forms = conn.execute(
            "select count(*) from intermediate.int_activities_classified"
            " where contact_id = %s and activity_key = 'demo_request'",
            (seeded["hand_raiser"],),
        ).fetchone()[0]
    (events,) = [e for e in stats["extract"] if e["stream"] == "events"]
    assert events["received"] == 21  # 6 demo requests + 15 page views, from the start
    assert forms == 1


def test_the_sql_first_touch_is_the_owners_first_call_meeting_or_email_after_sql(
    sandbox, seeded, connections
):
    """Sales activity as sales logs it (POST /crm/v3/objects/{calls,emails,notes}): the SLA's
    first touch is the owner's first call, meeting or outgoing email after the contact became
    an SQL; the contact's own reply and a note do not count. A call tied to no contact is
    loaded, counted, and scores nothing."""
    first = run_lead_sync(NOW)
    assert first.state == "success"
    portal, contact = sandbox.portal, seeded["hand_raiser"]
    owner = portal.add_owner("ae@example.com", "Ann", "Exec")

    def log(kind: str, minutes: int, linked: bool = True, **props: str) -> None:
        when = NOW + timedelta(minutes=minutes)
        portal.clock = lambda: when
        types = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": LINK[kind]}]
        body = {
            "properties": {"hs_timestamp": when.isoformat(), "hubspot_owner_id": str(owner)}
            | props,
            "associations": [{"to": {"id": str(contact)}, "types": types}] if linked else [],
        }
        response = httpx.post(
            f"{sandbox.url}/crm/v3/objects/{kind}",
            json=body,
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert response.status_code == 201, response.text

    LINK = {"calls": 194, "emails": 198, "notes": 202}  # noqa: N806
    log("emails", 5, hs_email_direction="INCOMING_EMAIL")  # the contact writes: no touch
    log("notes", 10, hs_note_body="Looked them up")  # internal: no touch
    log("calls", 40, hs_call_direction="OUTBOUND", hs_call_status="COMPLETED")
    log("emails", 50, hs_email_direction="EMAIL")
    log("calls", 20, linked=False, hs_call_direction="OUTBOUND")  # tied to no contact
    dag_run = run_lead_sync(NOW + timedelta(hours=1))
    assert dag_run.state == "success"
    with connect(connections) as conn:
        sla = conn.execute(
            "select started_at, responded_at, sla_status from marts.fct_lead_sla"
            " where contact_id = %s and sla_type = 'sql_first_touch'",
            (contact,),
        ).fetchone()
        first_stats, stats = (
            conn.execute(
                "select stats from leadflow.runs where run_id = %s", (run.run_id,)
            ).fetchone()[0]
            for run in (first, dag_run)
        )
    # SQL since its demo request two days ago; first touched 40 minutes past NOW: late
    assert sla == (NOW - 2 * DAY, NOW + timedelta(minutes=40), "breached")
    # the five logged here, and the hand-off notes the first run wrote (read back as notes)
    (engagements,) = [e for e in stats["extract"] if e["stream"] == "engagements"]
    notes_written = first_stats["push"]["notes_written"]
    assert notes_written > 0
    assert engagements["received"] == 5 + notes_written and engagements["unlinked"] == 1


def test_stage_history_begins_with_the_crms_own_lifecycle_history(sandbox, seeded, connections):
    """The first run logs the stages the CRM's lifecycle history says a contact went through,
    on the dates it says, so time-to-MQL is real on day one; a re-run adds nothing."""
    portal, contact = sandbox.portal, seeded["hand_raiser"]  # a lead since 60 days ago
    for days, stage in ((30, "marketingqualifiedlead"), (20, "salesqualifiedlead")):
        portal.update_object(
            "contacts", contact, {"lifecyclestage": stage}, updated_at=NOW - days * DAY
        )
    portal.update_object(
        "contacts", contact, {"lifecyclestage": "opportunity"}, updated_at=NOW - 10 * DAY
    )
    # a stage no mapping seed knows: left out of the stage log, counted in the run summary
    portal.update_object(
        "contacts", seeded["unknown"], {"lifecyclestage": "other"}, updated_at=NOW - 5 * DAY
    )
    history_sql = (
        "select observed_at, from_stage, to_stage, stage_entered_at, transition_source"
        " from marts.fct_lead_stage_history where contact_id = %s order by observed_at"
    )
    assert run_lead_sync(NOW).state == "success"
    with connect(connections) as conn:
        rows = conn.execute(history_sql, (contact,)).fetchall()
        first_mql = conn.execute(
            "select first_reached_mql_at from marts.dim_leads where contact_id = %s", (contact,)
        ).fetchone()[0]
    crm = [(r[1], r[2], r[3]) for r in rows if r[4] == "crm"]
    assert crm == [
        (None, "lead", NOW - 60 * DAY),
        ("lead", "mql", NOW - 30 * DAY),
        ("mql", "sql", NOW - 20 * DAY),
        ("sql", "opportunity", NOW - 10 * DAY),
    ]
    assert [(r[2], r[4]) for r in rows if r[4] == "leadflow"] == [("sql", "leadflow")]
    assert first_mql == NOW - 30 * DAY

    assert run_lead_sync(NOW).state == "success"  # the same interval again
    with connect(connections) as conn:
        assert conn.execute(history_sql, (contact,)).fetchall() == rows
        (stats,) = conn.execute(
            "select stats from leadflow.runs order by started_at desc limit 1"
        ).fetchone()
    (history,) = [e for e in stats["extract"] if e["stream"] == "lifecycle_history"]
    assert history["quarantined"] == 0
    assert stats["unmapped"] == {"lifecyclestage=other": 1}


def test_a_failed_quality_gate_blocks_the_push(
    sandbox, seeded, connections, tmp_path: Path, monkeypatch
):
    strict = tmp_path / "expectations"
    shutil.copytree(REPO_ROOT / "expectations", strict)
    suite = json.loads((strict / "crm_outgoing_contacts.json").read_text())
    suite["expectations"].append(
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "leadflow_score", "max_value": -1},
        }
    )
    (strict / "crm_outgoing_contacts.json").write_text(json.dumps(suite))
    monkeypatch.setenv("LEADFLOW_EXPECTATIONS_DIR", str(strict))

    dag_run = run_lead_sync(NOW)
    assert dag_run.state == "failed"
    assert _updates_sent(sandbox) == 0
    assert _crm_contact(sandbox.url, seeded["hand_raiser"]).get("leadflow_stage") is None
    with connect(connections) as conn:
        status, error = conn.execute(
            "select status, error from leadflow.runs where run_id = %s", (dag_run.run_id,)
        ).fetchone()
        kept = conn.execute("select count(*) from marts.crm_outgoing_contacts").fetchone()[0]
    assert status == "failed" and "validate_outgoing" in error
    assert kept == len(seeded)  # the data stays for inspection


CORRUPT_SQL = """
    do $$
    declare unique_index regclass;
    begin  -- the model's unique index on contact_id would refuse the duplicate: drop it first
        for unique_index in
            select indexrelid::regclass from pg_index
            where indrelid = 'marts.crm_outgoing_contacts'::regclass and indisunique
        loop
            execute format('drop index %s', unique_index);
        end loop;
    end $$;
    create temp table dup as
        select * from marts.crm_outgoing_contacts where leadflow_stage = 'sql' limit 1;
    update dup set leadflow_stage = 'mql', lifecyclestage = 'marketingqualifiedlead',
        leadflow_stage_reason = 'MQL: score 80', handoff_note_key = null;
    insert into marts.crm_outgoing_contacts select * from dup;
    update marts.crm_outgoing_contacts set leadflow_score = 250 where leadflow_stage = 'suspect';
    update marts.crm_outgoing_contacts set leadflow_reasons = repeat('+1 page view; ', 40)
    where contact_id = (
        select min(contact_id) from marts.crm_outgoing_contacts
        where leadflow_stage not in ('suspect', 'sql', 'mql')
    );
"""


def test_a_corrupted_mart_trips_the_gate_nothing_reaches_the_crm_and_ops_are_alerted(
    sandbox, seeded, connections, monkeypatch, request
):
    """dbt builds the mart, then it is corrupted (one contact both MQL and SQL, a score of
    250, reasons longer than the CRM's 500 characters): the gate stops the run before the push,
    the CRM is untouched, ops get the alert."""
    inbox = request.getfixturevalue("alert_inbox")
    from leadflow import pipeline

    build = pipeline.transform

    def build_then_corrupt(ctx):
        built = build(ctx)
        with connect(connections) as conn:
            conn.execute(CORRUPT_SQL)
        return built

    monkeypatch.setattr(pipeline, "transform", build_then_corrupt)
    dag_run = run_lead_sync(NOW)
    assert dag_run.state == "failed"
    writes = [p for m, p, _ in sandbox.portal.request_log if m == "POST" and "/batch/" in p]
    assert not any(p.endswith(("/batch/update", "/batch/upsert")) for p in writes)
    assert _crm_contact(sandbox.url, seeded["hand_raiser"]).get("leadflow_stage") is None

    inbox.wait()
    text = inbox.slack[0]["text"]
    assert "quality gate failed: crm_outgoing_contacts" in text
    assert f"Run: {dag_run.run_id}" in text
    # 2 duplicate ids, 1 score out of range, 1 reasons text too long, 1 contact MQL and SQL
    assert "Rows: 5" in text
    assert "no contact both MQL and SQL" in text and "note planned: 1 bad rows" in text
    assert "leadflow_score" in text
    assert "expect_column_value_lengths_to_be_between on leadflow_reasons: 1 bad rows" in text
    assert f"leadflow.quality_results where run_id = '{dag_run.run_id}'" in text
    subject, body = inbox.emails[0]
    assert "crm_outgoing_contacts" in subject and "Rows: 5" in body
    with connect(connections) as conn:
        kinds = conn.execute(
            "select kind from leadflow.alerts where run_id = %s", (dag_run.run_id,)
        ).fetchall()
        kept = conn.execute("select count(*) from marts.crm_outgoing_contacts").fetchone()[0]
        pushed = conn.execute("select count(*) from leadflow.push_state").fetchone()[0]
    assert kinds == [("gate_failed",)]  # the run-failed alert does not repeat it
    assert kept == len(seeded) + 1 and pushed == 0


def test_a_merge_in_the_crm_brings_the_old_contacts_activity_to_the_survivor(
    sandbox, seeded, connections
):
    """The hand-raiser, whose events were loaded and scored in the first hour, is merged into a
    contact with no activity; the next hour's run credits its demo request to the survivor."""
    ids = seeded
    survivor, merged = ids["unknown"], ids["hand_raiser"]
    assert run_lead_sync(NOW).state == "success"
    before = _crm_contact(sandbox.url, survivor)
    assert "demo request" not in before["leadflow_reasons"].lower()

    sandbox.portal.clock = lambda: NOW + timedelta(minutes=30)
    status, _ = sandbox.portal.merge(
        "contacts", {"primaryObjectId": str(survivor), "objectIdToMerge": str(merged)}
    )
    assert status == 200
    assert run_lead_sync(NOW + timedelta(hours=1)).state == "success"

    after = _crm_contact(sandbox.url, survivor)
    assert "demo request" in after["leadflow_reasons"].lower()
    assert int(after["leadflow_score"]) > int(before["leadflow_score"])
    with connect(connections) as conn:
        owners = {
            contact_id: (scoring, kept)
            for contact_id, scoring, kept in conn.execute(
                "select contact_id, count(activity_type), count(*)"
                " from intermediate.int_activities_classified"
                " where contact_id in (%s, %s) and not is_duplicate group by contact_id",
                (survivor, merged),
            )
        }
    # the demo request and three pricing-page views, and the hand-off note the first hour
    # wrote on the hand-raiser (a note: kept, of no activity type, scores nothing)
    assert owners == {survivor: (4, 5)}


def test_the_push_sends_only_what_the_gate_validated(sandbox, seeded, connections, monkeypatch):
    """A write to the outgoing mart between the gate and the push (a concurrent build or
    backfill in life; planted here) is caught: nothing reaches the CRM and ops are alerted."""
    from leadflow import pipeline

    gate = pipeline.validate_outgoing

    def gate_then_write(ctx, **kwargs):
        verdict = gate(ctx, **kwargs)
        with connect(connections) as conn:
            conn.execute(
                "update marts.crm_outgoing_contacts"
                " set leadflow_stage = 'sql', leadflow_score = 1000 where contact_id = %s",
                (seeded["poor_fit"],),
            )
        return verdict

    monkeypatch.setattr(pipeline, "validate_outgoing", gate_then_write)
    dag_run = run_lead_sync(NOW)
    assert dag_run.state == "failed"
    push = dag_run.get_task_instance("push_to_crm")
    assert (push.state, push.try_number) == ("failed", 1)  # not retried: a retry cannot fix it
    assert _updates_sent(sandbox) == 0
    assert _crm_contact(sandbox.url, seeded["poor_fit"]).get("leadflow_stage") is None
    with connect(connections) as conn:
        alerts = conn.execute(
            "select kind, body from leadflow.alerts where run_id = %s", (dag_run.run_id,)
        ).fetchall()
        attempts = conn.execute("select count(*) from leadflow.push_log").fetchone()[0]
    assert attempts == 0
    assert [kind for kind, _ in alerts] == ["push_failed"]
    assert "changed after the gate validated" in alerts[0][1]


EVERYONE_SQL = """
    update marts.crm_outgoing_contacts
    set leadflow_stage = 'sql', lifecyclestage = 'salesqualifiedlead',
        disqualification_reason = null, leadflow_stage_reason = 'SQL: a rules bug',
        handoff_note_key = coalesce(handoff_note_key, contact_id || '-sql-bug')
"""


def test_the_first_pushes_are_protected_from_mass_mis_scoring(
    sandbox, seeded, connections, monkeypatch
):
    """lifecyclestage never moves back, so a bad first run cannot be undone in the CRM: the
    first push waits for a confirmation, and until pushes have a history the push may not
    move more than a tenth of the contacts into MQL or SQL."""
    from leadflow import pipeline

    for i in range(600):  # a portal of 608 contacts, most of them leads in the CRM
        sandbox.portal.add_contact(
            {"email": f"lead{i}@acme-soft.com", "lifecyclestage": "lead"},
            updated_at=NOW - 20 * DAY,
        )
    monkeypatch.setenv("LEADFLOW_BREAKER_CONFIRM_FIRST_PUSH", "true")
    awaiting = run_lead_sync(NOW)
    assert awaiting.state == "failed"
    assert _updates_sent(sandbox) == 0
    with connect(connections) as conn:
        (title,) = conn.execute(
            "select title from leadflow.alerts where run_id = %s", (awaiting.run_id,)
        ).fetchone()
    assert "first push to this CRM awaits confirmation" in title

    confirmed = run_lead_sync(NOW, conf={"force_push": True})  # after `leadflow plan`
    assert confirmed.state == "success"
    assert _crm_contact(sandbox.url, seeded["hand_raiser"])["leadflow_stage"] == "sql"
    sent = _updates_sent(sandbox)

    build = pipeline.transform

    def everyone_sql(ctx):  # a rules bug: every contact an SQL
        built = build(ctx)
        with connect(connections) as conn:
            conn.execute(EVERYONE_SQL)
        return built

    monkeypatch.setattr(pipeline, "transform", everyone_sql)
    blocked = run_lead_sync(NOW + timedelta(hours=1))
    assert blocked.state == "failed"
    assert _updates_sent(sandbox) == sent
    assert _crm_contact(sandbox.url, seeded["poor_fit"])["lifecyclestage"] == "lead"
    with connect(connections) as conn:
        kinds = [
            r[0]
            for r in conn.execute(
                "select kind from leadflow.alerts where run_id = %s", (blocked.run_id,)
            )
        ]
        (details,) = conn.execute(
            "select details from leadflow.quality_results where run_id = %s"
            " and suite = 'volume_circuit_breaker'",
            (blocked.run_id,),
        ).fetchone()
    assert kinds == ["volume_breaker"]
    assert details[0]["tripped"] and details[0]["qualifying_moves"] > 600
    assert details[0]["limit_qualifying_moves"] == pytest.approx(60.8)  # a tenth of 608


def test_values_lost_in_the_crm_are_restored(sandbox, seeded, connections):
    """Someone bulk-clears leadflow fields on some contacts, and deletes and re-creates a
    leadflow property (every contact loses its value, none is modified): leadflow's own diff
    sees nothing, but the next run restores both and says so."""
    from leadflow import plan, sources

    ids = seeded
    assert run_lead_sync(NOW).state == "success"
    before = {key: _crm_contact(sandbox.url, cid) for key, cid in ids.items()}
    portal = sandbox.portal
    portal.clock = lambda: NOW + timedelta(minutes=20)
    cleared = [ids["hand_raiser"], ids["student"]]
    for cid in cleared:  # an import that blanks two fields
        portal.update_object(
            "contacts", cid, {"leadflow_score": "", "leadflow_fit_grade": ""}, updated_at=NOW
        )
    headers = {"Authorization": f"Bearer {TOKEN}"}
    url = f"{sandbox.url}/crm/v3/properties/contacts/leadflow_reasons"
    assert httpx.delete(url, headers=headers).status_code == 204
    definition = next(p for p in CUSTOM_PROPERTIES if p["name"] == "leadflow_reasons")
    created = httpx.post(
        url.rsplit("/", 1)[0],
        headers=headers,
        json={"groupName": "contactinformation", **definition},
    )
    assert created.status_code == 201
    assert _crm_contact(sandbox.url, ids["customer"]).get("leadflow_reasons") is None

    planned = plan.plan(connections, sources.crm())  # before the next run, nothing sent
    assert {p.contact_id for p in planned} == set(ids.values())
    assert all("restore: the CRM lost leadflow_reasons" in p.notes for p in planned)

    rerun = run_lead_sync(NOW + timedelta(hours=1))
    assert rerun.state == "success"
    names = ["lifecyclestage", *CUSTOM_PROPERTY_NAMES]
    after = {key: _crm_contact(sandbox.url, cid) for key, cid in ids.items()}
    assert {k: [p.get(n) for n in names] for k, p in after.items()} == {
        k: [p.get(n) for n in names] for k, p in before.items()
    }
    with connect(connections) as conn:
        (stats,) = conn.execute(
            "select stats from leadflow.runs where run_id = %s", (rerun.run_id,)
        ).fetchone()
        alerts = conn.execute(
            "select kind, rows_affected, body from leadflow.alerts where run_id = %s",
            (rerun.run_id,),
        ).fetchall()
    assert stats["push"]["restored"] == len(ids)
    assert stats["push"]["recreated_properties"] == ["leadflow_reasons"]
    assert [(kind, rows) for kind, rows, _ in alerts] == [("crm_drift", len(ids))]
    assert "leadflow_reasons" in alerts[0][2]

    again = run_lead_sync(NOW + timedelta(hours=2))  # restored: nothing left to send
    with connect(connections) as conn:
        (stats,) = conn.execute(
            "select stats from leadflow.runs where run_id = %s", (again.run_id,)
        ).fetchone()
    assert stats["push"]["changed"] == 0 and stats["push"]["restored"] == 0


def test_a_source_property_deleted_in_the_crm_stops_counting_for_everyone(
    sandbox, seeded, connections
):
    """A property the rules read (bant_budget: 'no' disqualifies) is deleted in the CRM. The
    contacts edited since and those unchanged (whose raw records still carry the old value)
    are scored alike, as a fresh load would score them, and ops hear of it."""
    portal = sandbox.portal
    raiser = seeded["hand_raiser"]
    twin = portal.add_contact(
        {
            "email": "vp2@acme-soft.com",
            "firstname": "Twin",
            "lastname": "Test",
            "jobtitle": "VP of Marketing",
            "country": "United States",
            "lifecyclestage": "lead",
        },
        created_at=NOW - 60 * DAY,
        updated_at=NOW - 20 * DAY,
    )
    acme = portal._links[("contacts", raiser, "companies")]
    portal.associate("contacts", twin, "companies", next(iter(acme)), 1)
    portal.add_event(
        "e_submitted_form",
        twin,
        NOW - 2 * DAY,
        {"hs_form_id": "f-demo", "hs_form_title": "Demo request"},
    )
    for days in (1, 3, 5):  # as the hand-raiser's
        portal.add_event(
            "e_visited_page",
            twin,
            NOW - days * DAY,
            {"hs_url": "https://www.example.com/pricing", "hs_page_title": "Pricing"},
        )
    for cid in (raiser, twin):
        portal.update_object("contacts", cid, {"bant_budget": "no"}, updated_at=NOW - 19 * DAY)
    assert run_lead_sync(NOW).state == "success"
    assert {_crm_contact(sandbox.url, c)["leadflow_stage"] for c in (raiser, twin)} == {
        "disqualified"
    }
    # The next hour re-reads what the push wrote, then the raw records stay as they are.
    assert run_lead_sync(NOW + timedelta(hours=1)).state == "success"

    portal.clock = lambda: NOW + timedelta(hours=1, minutes=10)
    deleted = httpx.delete(
        f"{sandbox.url}/crm/v3/properties/contacts/bant_budget",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert deleted.status_code == 204
    edited = NOW + timedelta(hours=1, minutes=20)
    portal.update_object("contacts", twin, {"city": "Boston"}, updated_at=edited)
    run = run_lead_sync(NOW + timedelta(hours=2))
    assert run.state == "success"

    crm = {c: _crm_contact(sandbox.url, c) for c in (raiser, twin)}
    assert [crm[c]["leadflow_stage"] for c in (raiser, twin)] == ["sql", "sql"]
    assert crm[raiser]["leadflow_score"] == crm[twin]["leadflow_score"]
    with connect(connections) as conn:
        alerts = conn.execute(
            "select kind, title, body from leadflow.alerts where run_id = %s", (run.run_id,)
        ).fetchall()
        (changes,) = conn.execute(
            "select array_agg(stream || '.' || name || ' ' || change)"
            " from leadflow.source_schema_changes"
        ).fetchone()
    # the first push created leadflow's own properties: the second run sees them added too
    assert sorted(changes) == [
        "contacts.bant_budget removed",
        *(f"contacts.{name} added" for name in sorted(CUSTOM_PROPERTY_NAMES)),
    ]
    assert [kind for kind, _, _ in alerts] == ["schema_drift"]
    assert "bant_budget" in alerts[0][1] and "deleted in the CRM" in alerts[0][2]


def test_a_revoked_token_fails_at_once_and_the_alert_names_every_failed_stream(
    sandbox, seeded, connections, monkeypatch
):
    """A 401 cannot be retried away: the tasks fail without Airflow's retries (1 then 2
    minutes), and the run's alert names each failed extract by its stream, all six."""
    import time

    from leadflow.sources.hubspot.sandbox.server import Response

    original = sandbox.app.handle

    def revoked_for_crm_objects(method, target, headers, raw):
        if target.startswith("/crm/v3/"):
            body = {"status": "error", "category": "INVALID_AUTHENTICATION", "message": "revoked"}
            return Response(401, body)
        return original(method, target, headers, raw)

    monkeypatch.setattr(sandbox.app, "handle", revoked_for_crm_objects)
    began = time.monotonic()
    dag_run = run_lead_sync(NOW)
    took = time.monotonic() - began
    assert dag_run.state == "failed"
    assert took < 60, f"{took:.0f} s: the failed extracts were retried"
    with connect(connections) as conn:
        error, kinds_titles = conn.execute(
            "select error, (select array_agg(kind || ': ' || title) from leadflow.alerts"
            " where run_id = r.run_id) from leadflow.runs as r where run_id = %s",
            (dag_run.run_id,),
        ).fetchone()
    streams = ["companies", "contacts", "deals", "engagements", "lifecycle_history", "owners"]
    assert error == "failed tasks: " + ", ".join(f"extract[{s}]" for s in streams)
    run_failed = [t for t in kinds_titles if t.startswith("run_failed")]
    assert run_failed == [
        "run_failed: lead_sync failed at: " + ", ".join(f"extract[{s}]" for s in streams)
    ]


def _one_hour_of_trouble(portal, ids: dict[str, int], when) -> str:
    """A deleted contact, an event recorded late, and a source property deleted, all after the
    previous run; returns the late event's id."""
    portal.clock = lambda: when
    portal.archive_object("contacts", ids["poor_fit"])
    assert portal.archive_property("contacts", "bant_budget") == (204, None)
    late = portal.add_event(  # it happened during the previous run's hour
        "e_submitted_form",
        ids["unknown"],
        when - timedelta(minutes=50),
        {"hs_form_id": "f-demo", "hs_form_title": "Demo request"},
    )
    return late


def test_an_hour_of_deletions_late_events_lost_values_and_schema_drift_ends_correct(
    sandbox, seeded, connections, pg_server, monkeypatch
):
    """The issue's closing scenario: after two good hours, one contact is deleted, an event is
    recorded late, leadflow's score is cleared on a contact in the CRM and a property the rules
    read is deleted. The next run leaves every other contact as a clean run of the same hour on
    the same CRM would, scores the late event, restores the cleared value and alerts ops."""
    import uuid

    import psycopg

    from leadflow.settings import PostgresSettings
    from leadflow.sources.hubspot.sandbox import Portal, SandboxConfig, SandboxServer

    from .conftest import connection_env

    ids, portal = seeded, sandbox.portal
    portal.update_object("contacts", ids["hand_raiser"], {"bant_budget": "no"}, updated_at=NOW)
    for hour in (0, 1):
        assert run_lead_sync(NOW + timedelta(hours=hour)).state == "success"
    assert _crm_contact(sandbox.url, ids["hand_raiser"])["leadflow_stage"] == "disqualified"

    trouble = NOW + timedelta(hours=1, minutes=30)
    late = _one_hour_of_trouble(portal, ids, trouble)
    portal.update_object("contacts", ids["student"], {"leadflow_score": ""}, updated_at=trouble)
    run = run_lead_sync(NOW + timedelta(hours=2))
    assert run.state == "success"
    crm = {key: _crm_contact(sandbox.url, cid) for key, cid in ids.items() if key != "poor_fit"}

    # The same CRM state, loaded fresh in one run of that hour.
    clean = Portal()
    clean.clock = lambda: NOW
    clean_ids = _seed(clean)
    clean.update_object("contacts", clean_ids["hand_raiser"], {"bant_budget": "no"}, updated_at=NOW)
    _one_hour_of_trouble(clean, clean_ids, trouble)
    name = f"t_clean_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(**pg_server.conninfo(), autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    clean_pg = PostgresSettings(host=pg_server.host, port=pg_server.port, dbname=name)
    with SandboxServer(clean, SandboxConfig(token=TOKEN)) as server:
        extra = {"rate_limit_per_10s": 1000, "search_rate_per_s": 100}
        for key, value in connection_env(clean_pg, server.url, TOKEN, extra).items():
            monkeypatch.setenv(key, value)
        assert run_lead_sync(NOW + timedelta(hours=2)).state == "success"
        expected = {key: _crm_contact(server.url, clean_ids[key]) for key in crm}

    compared = ["lifecyclestage", "leadflow_stage", "leadflow_score", "leadflow_fit_grade"]
    assert {k: [p.get(n) for n in compared] for k, p in crm.items()} == {
        k: [p.get(n) for n in compared] for k, p in expected.items()
    }
    assert crm["hand_raiser"]["leadflow_stage"] == "sql"  # bant_budget 'no' is gone with it
    assert "demo request" in crm["unknown"]["leadflow_reasons"].lower()  # the late event
    assert crm["student"]["leadflow_score"] is not None  # restored
    with connect(connections) as conn:
        (archived,) = conn.execute(
            "select archived from raw.hubspot_contacts where id = %s", (ids["poor_fit"],)
        ).fetchone()
        (live,) = conn.execute(
            "select count(*) from raw.hubspot_contacts where not archived"
        ).fetchone()
        (loaded,) = conn.execute(
            "select count(*) from raw.hubspot_events where id = %s", (late,)
        ).fetchone()
        kinds = {
            r[0]
            for r in conn.execute(
                "select kind from leadflow.alerts where run_id = %s", (run.run_id,)
            )
        }
    assert archived and live == len(ids) - 1 and loaded == 1
    assert {"schema_drift", "crm_drift"} <= kinds
