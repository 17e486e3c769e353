"""The marketing streams every tier can read (form submissions, email events, subscription
changes) and the stage-entered dates, against the sandbox over HTTP, into Postgres."""

from __future__ import annotations

from datetime import timedelta

import pytest

from leadflow.db import connect, ensure_schema
from leadflow.sources.hubspot.client import FORM_SUBMISSIONS
from leadflow.sources.hubspot.raw import load_activity
from leadflow.sources.hubspot.sandbox.server import Response
from leadflow.sources.hubspot.streams import extract_stream

from .conftest import NOW

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@pytest.fixture
def form(sandbox) -> str:
    sandbox.portal.define_form("f-demo", "Demo request", "https://www.example.com/demo")
    return "f-demo"


def _submit(portal, contact: int, when) -> None:
    portal.add_event(
        "e_submitted_form", contact, when, {"hs_form_id": "f-demo", "hs_form_title": "Demo request"}
    )


def _rows(pg, table: str) -> list[tuple]:
    with connect(pg) as conn:
        return conn.execute(
            f"select id, kind, email, occurred_at from {table} order by 4"
        ).fetchall()


def test_submissions_are_read_newest_first_down_to_the_window_and_never_twice(
    sandbox, hs, pg, form
) -> None:
    """A first load reads a form's whole past; an hourly run stops at the first page older
    than its window (the API has no date filter) and a re-run stores nothing again."""
    ensure_schema(pg)
    portal = sandbox.portal
    ann = portal.add_contact({"email": "Ann@Acme.example"}, created_at=NOW - 40 * DAY)
    for hours in range(2, 122):  # 120 past submissions: three pages of 50
        _submit(portal, ann, NOW - hours * HOUR)
    first = extract_stream("form_submissions", pg, hs, NOW - 2 * HOUR, NOW - HOUR, "l1")
    rows = _rows(pg, "raw.hubspot_form_submissions")
    assert first.received == 120 and len(rows) == 120
    assert {(kind, email) for _, kind, email, _ in rows} == {(form, "ann@acme.example")}

    for minutes in (50, 30, 5):
        _submit(portal, ann, NOW - minutes * timedelta(minutes=1))
    portal.request_log.clear()
    second = extract_stream("form_submissions", pg, hs, NOW - HOUR, NOW, "l2")
    pages = [p for m, p, _ in portal.request_log if p == FORM_SUBMISSIONS.format(form_id=form)]
    assert second.received == 3 and second.changed == 3
    assert len(pages) == 1  # the newest page already reaches behind the window
    assert len(_rows(pg, "raw.hubspot_form_submissions")) == 123

    again = extract_stream("form_submissions", pg, hs, NOW - HOUR, NOW, "l2")
    assert again.received == 3 and again.changed == 0


def test_a_submission_without_a_usable_email_is_quarantined_with_the_reason(pg) -> None:
    ensure_schema(pg)
    good = {
        "conversionId": "c1",
        "submittedAt": 1_764_000_000_000,
        "formId": "f",
        "values": [{"name": "email", "value": " Bob@Acme.example "}],
    }
    bad = {
        "conversionId": "c2",
        "submittedAt": 1_764_000_000_000,
        "formId": "f",
        "values": [{"name": "firstname", "value": "Bob"}],
    }
    with connect(pg) as conn:
        stats = load_activity(conn, "form_submissions", [good, bad], "l1")
        reasons = conn.execute(
            "select record_id, reason from leadflow.quarantine where stream = 'form_submissions'"
        ).fetchall()
        emails = conn.execute("select email from raw.hubspot_form_submissions").fetchall()
    assert (stats.received, stats.changed, stats.quarantined) == (2, 1, 1)
    assert reasons == [("c2", "submission without a valid email: None")]
    assert emails == [("bob@acme.example",)]


def test_email_events_and_subscription_changes_land_for_contacts_and_strangers(
    sandbox, hs, pg
) -> None:
    """Every tier reads marketing email: opens, clicks, bounces and unsubscribes arrive with
    their recipient, also for an address no contact has (kept in raw, matched later)."""
    ensure_schema(pg)
    portal = sandbox.portal
    ann = portal.add_contact({"email": "ann@acme.example"}, created_at=NOW - 40 * DAY)
    when = NOW - 30 * timedelta(minutes=1)
    portal.add_event("e_opened_email", ann, when, {"hs_email_campaign_id": "7"})
    portal.add_event(
        "e_unsubscribed", ann, when + timedelta(minutes=1), {"hs_email_campaign_id": "7"}
    )
    for recipient, kind in (("ann@acme.example", "CLICK"), ("nobody@else.example", "OPEN")):
        status, _ = portal.record_email_event(
            {
                "recipient": recipient,
                "type": kind,
                "emailCampaignId": 7,
                "created": when.isoformat(),
            }
        )
        assert status == 201
    events = extract_stream("email_events", pg, hs, NOW - HOUR, NOW, "l1")
    changes = extract_stream("subscription_changes", pg, hs, NOW - HOUR, NOW, "l1")
    assert events.quarantined == changes.quarantined == 0
    kinds = sorted((kind, email) for _, kind, email, _ in _rows(pg, "raw.hubspot_email_events"))
    assert kinds == [
        ("CLICK", "ann@acme.example"),
        ("OPEN", "ann@acme.example"),
        ("OPEN", "nobody@else.example"),
        ("STATUSCHANGE", "ann@acme.example"),
    ]
    assert [(k, e) for _, k, e, _ in _rows(pg, "raw.hubspot_subscription_changes")] == [
        ("UNSUBSCRIBED", "ann@acme.example")
    ]
    again = extract_stream("email_events", pg, hs, NOW - HOUR, NOW, "l1")
    assert again.received == 4 and again.changed == 0


def test_the_stage_entered_dates_hubspot_calculates_are_stored_with_the_history(
    sandbox, hs, pg
) -> None:
    ensure_schema(pg)
    portal = sandbox.portal
    cid = portal.add_contact(
        {"email": "c@acme.example", "lifecyclestage": "lead"},
        created_at=NOW - 10 * DAY,
        updated_at=NOW - 10 * DAY,
    )
    portal.update_object(
        "contacts", cid, {"lifecyclestage": "marketingqualifiedlead"}, updated_at=NOW - 5 * DAY
    )
    extract_stream("lifecycle_history", pg, hs, NOW - HOUR, NOW, "l1")
    with connect(pg) as conn:
        calculated = conn.execute(
            "select property, value, changed_at from raw.hubspot_contact_history"
            " where source_type = 'CALCULATED' order by changed_at"
        ).fetchall()
    assert calculated == [
        ("hs_v2_date_entered_lead", "lead", NOW - 10 * DAY),
        ("hs_v2_date_entered_marketingqualifiedlead", "marketingqualifiedlead", NOW - 5 * DAY),
    ]


def test_a_portal_without_marketing_email_skips_those_streams_and_nothing_fails(
    sandbox, hs, pg, monkeypatch
) -> None:
    """Without marketing email (or the `content` scope) HubSpot answers 403: the stream is
    skipped with the reason, its cursor unmoved, as events v3 below Enterprise."""
    ensure_schema(pg)
    original = sandbox.app.handle

    def no_content_scope(method, target, headers, raw):  # type: ignore[no-untyped-def]
        if target.startswith("/email/public/v1/"):
            return Response(403, {"status": "error", "category": "MISSING_SCOPES", "message": "x"})
        return original(method, target, headers, raw)

    monkeypatch.setattr(sandbox.app, "handle", no_content_scope)
    for stream in ("email_events", "subscription_changes"):
        stats = extract_stream(stream, pg, hs, NOW - HOUR, NOW, "l1")
        assert stats.mode == "unavailable" and stats.received == 0
        assert "HTTP 403 MISSING_SCOPES" in stats.unavailable and "content" in stats.unavailable
    with connect(pg) as conn:
        cursors = conn.execute("select count(*) from leadflow.stream_state").fetchone()[0]
    assert cursors == 0
