"""leadflow's Salesforce write-back against the sandbox over HTTPS: the fields checked by
describe (a push stops on an org without them, naming what to create), values as Salesforce
stores them, per-record rejections, hand-off Tasks found again by their reference line, and
nurture enrollment as campaign membership."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from leadflow.errors import ConfigError
from leadflow.settings import PushOptions
from leadflow.sources import Activity, PushPlan
from leadflow.sources.salesforce.client import SalesforceClient
from leadflow.sources.salesforce.sandbox.org import Org
from leadflow.sources.salesforce.sandbox.server import SandboxConfig, SandboxServer
from leadflow.sources.salesforce.writeback import SalesforceSession

AT = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
AFTER = {
    "leadflow_stage": "sql",
    "leadflow_score": "72.5",
    "leadflow_fit_grade": "A",
    "leadflow_reasons": "fit: title; engagement: demo request",
    "leadflow_stage_entered_at": "2026-11-01T09:30:15.250Z",
    "leadflow_stage_reason": "x" * 300,
    "lifecyclestage": "salesqualifiedlead",
}


@pytest.fixture
def org() -> Org:
    org = Org()
    org.clock = lambda: AT
    for i in range(3):
        org.insert("Lead", {"LastName": f"L{i}", "Company": "Acme", "Email": f"l{i}@acme.io"})
    org.insert("Contact", {"LastName": "C", "Email": "c@acme.io"})
    org.insert("Campaign", {"Name": "Re-engagement nurture", "Type": "Email"})
    return org


@pytest.fixture
def session(org: Org) -> Iterator[SalesforceSession]:
    with SandboxServer(org, SandboxConfig()) as server:
        client = SalesforceClient(server.client_settings(backoff_s=0))
        people = [*org.records["Lead"], *org.records["Contact"]]
        with client:
            # person 5 has no record: its Lead was never read, or is gone
            yield SalesforceSession(client, {i + 1: rid for i, rid in enumerate(people)})


def _plan(contact_id: int) -> PushPlan:
    return PushPlan(contact_id, None, None, None, dict(AFTER))


def test_a_push_stops_on_an_org_without_leadflows_fields_and_names_them(
    org: Org, session: SalesforceSession
) -> None:
    assert session.prepare(create_missing=True) == {}
    org.without_leadflow_fields()
    assert session.prepare(create_missing=False) == {}  # a dry run plans as if they existed
    with pytest.raises(ConfigError, match=r"Lead\.Leadflow Stage \(Leadflow_Stage__c\): Text"):
        session.prepare(create_missing=True)


def test_values_are_sent_as_salesforce_stores_them_and_rejections_come_back_per_record(
    org: Org, session: SalesforceSession
) -> None:
    plans = [_plan(cid) for cid in (1, 2, 4, 5)]
    for p in plans:
        session.decide(p, PushOptions())
    first = plans[0]
    assert "lifecyclestage" not in first.payload
    assert first.payload["leadflow_stage_entered_at"] == "2026-11-01T09:30:15.000Z"
    assert len(first.payload["leadflow_stage_reason"]) == 255
    assert any("cut to the 255 characters" in n for n in first.notes)
    org.faults.lock_failures = {session.records[2]}

    outcome = session.send(plans, PushOptions())

    assert outcome.errors.keys() == {2, 5}
    assert outcome.errors[2].startswith("UNABLE_TO_LOCK_ROW")
    assert outcome.errors[5].startswith("NOT_FOUND")
    held = session.read_back([1, 2, 4, 5], ["leadflow_stage", "leadflow_stage_entered_at"])
    assert held.keys() == {1, 2, 4}
    assert held[1]["leadflow_stage"] == held[4]["leadflow_stage"] == "sql"
    assert held[2]["leadflow_stage"] is None
    for name, sent in first.payload.items():
        assert session.holds(name, sent, session.read_back([1], [name])[1][name]), name
    assert session.exists([1, 2, 3, 4, 5]) == {1, 2, 3, 4}
    org.records["Lead"][session.records[3]]["IsConverted"] = True
    third = _plan(3)
    session.decide(third, PushOptions())
    assert session.send([third], PushOptions()).errors[3].startswith("CANNOT_UPDATE_CONVERTED")


def test_handoff_tasks_are_found_again_by_their_reference_line(
    org: Org, session: SalesforceSession
) -> None:
    tasks = [
        Activity(f"note:n{cid}", "note", f"n{cid}", cid, None, AT, f"hello\nleadflow ref n{cid}")
        for cid in (1, 4, 5)
    ]
    outcome = session.create_activities(tasks)
    assert outcome.created.keys() == {"note:n1", "note:n4"}
    assert outcome.errors.keys() == {"note:n5"}
    written = org.records["Task"][outcome.created["note:n4"]]
    assert written["WhoId"] == session.records[4] and written["Status"] == "Completed"
    assert session.find_activities(tasks) == outcome.created


def test_nurture_enrollment_is_campaign_membership(org: Org, session: SalesforceSession) -> None:
    (campaign,) = org.records["Campaign"]
    change = session.change_list(campaign, add=[1, 4, 5], remove=[])
    assert change.added == [1, 4] and change.missing == [5]
    again = session.change_list(campaign, add=[1], remove=[])  # already a member: done
    assert again.added == [1]
    members = [m for m in org.records["CampaignMember"].values() if not m["IsDeleted"]]
    assert sorted(m["LeadOrContactId"] for m in members) == sorted(
        [session.records[1], session.records[4]]
    )
    left = session.change_list(campaign, add=[], remove=[1, 2])
    assert sorted(left.removed) == [1, 2]  # 2 was no member: nothing to remove
    members = [m for m in org.records["CampaignMember"].values() if not m["IsDeleted"]]
    assert [m["LeadOrContactId"] for m in members] == [session.records[4]]
