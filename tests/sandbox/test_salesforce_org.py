"""The Salesforce sandbox's own rules, where no client library looks: ids and their checksum,
whole-second SystemModstamps and the keyset that survives them, recycle bin and merges, lead
history, record locks, Bulk API 2.0 paging and versions, and the org's people being the
HubSpot portal's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from leadflow.sources.hubspot.sandbox import Portal
from leadflow.sources.salesforce import ids
from leadflow.sources.salesforce.sandbox.errors import SalesforceError
from leadflow.sources.salesforce.sandbox.org import Org
from leadflow.sources.salesforce.sandbox.server import SandboxConfig, SandboxServer
from leadflow.sources.salesforce.sandbox.synthetic import generate

NOW = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
SOQL = "SELECT Id FROM Lead WHERE {where} ORDER BY SystemModstamp, Id"
KEYSET = "SystemModstamp > {t} OR (SystemModstamp = {t} AND Id > '{id}')"


def _org(leads: int = 0) -> Org:
    org = Org()
    org.clock = lambda: NOW
    for i in range(leads):
        org.insert("Lead", {"LastName": f"L{i}", "Company": "Acme", "Email": f"l{i}@acme.io"})
    return org


def _records(org: Org, soql: str, include_deleted: bool = False) -> list[dict]:
    return org.query(soql, include_deleted=include_deleted, batch=2000, version="66.0")["records"]


def _ids(org: Org, soql: str, include_deleted: bool = False) -> list[str]:
    return [r["Id"] for r in _records(org, soql, include_deleted)]


def test_ids_carry_their_prefix_and_case_checksum() -> None:
    lead = ids.make_id("00Q", 12345)
    assert len(lead) == 18 and lead.startswith("00Q")
    assert ids.normalize(lead[:15]) == lead
    assert ids.normalize(lead.lower()) == lead  # the suffix restores the case
    assert ids.normalize(lead[:15].lower()) != lead  # 15 characters are case-sensitive
    assert ids.normalize("not-an-id") is None
    assert sorted(ids.make_id("00Q", n) for n in (1, 62, 63, 4000)) == [
        ids.make_id("00Q", n) for n in (1, 62, 63, 4000)
    ]


def test_a_keyset_on_modstamp_and_id_loses_no_record_of_a_shared_second() -> None:
    org = _org(leads=50)  # one second: every SystemModstamp is the same
    stamps = {r["SystemModstamp"] for r in org.records["Lead"].values()}
    assert stamps == {"2026-11-01T10:00:00.000+0000"}
    ordered = _ids(org, "SELECT Id FROM Lead ORDER BY SystemModstamp, Id")
    boundary = ordered[19]
    after = _ids(org, SOQL.format(where=KEYSET.format(t="2026-11-01T10:00:00Z", id=boundary)))
    assert after == ordered[20:]
    strictly = _ids(org, SOQL.format(where="SystemModstamp > 2026-11-01T10:00:00Z"))
    assert strictly == []  # what a cursor on the timestamp alone would have read


def test_deleted_and_merged_records_are_in_query_all_only() -> None:
    org = _org(leads=3)
    master, duplicate, gone = _ids(org, "SELECT Id FROM Lead ORDER BY Id")
    org.merge("Lead", master, duplicate)
    org.delete("Lead", gone)
    assert _ids(org, "SELECT Id FROM Lead") == [master]
    everything = _records(org, "SELECT Id, IsDeleted, MasterRecordId FROM Lead ORDER BY Id", True)
    assert [(r["IsDeleted"], r["MasterRecordId"]) for r in everything] == [
        (False, None),
        (True, master),
        (True, None),
    ]


def test_status_changes_are_lead_history_and_converted_leads_are_read_only() -> None:
    org = _org(leads=1)
    (lead,) = _ids(org, "SELECT Id FROM Lead")
    org.clock = lambda: NOW + timedelta(hours=1)
    org.update("Lead", lead, {"Status": "Working - Contacted"})
    history = _records(org, "SELECT Field, OldValue, NewValue, CreatedDate FROM LeadHistory", False)
    assert [(h["Field"], h["OldValue"], h["NewValue"]) for h in history] == [
        ("Status", "Open - Not Contacted", "Working - Contacted")
    ]
    assert history[0]["CreatedDate"] == "2026-11-01T11:00:00.000+0000"
    contact = org.convert_lead(lead)
    assert org.records["Contact"][contact]["Email"] == "l0@acme.io"
    with pytest.raises(SalesforceError) as refused:
        org.update("Lead", lead, {"Leadflow_Stage__c": "sql"})
    assert refused.value.code == "CANNOT_UPDATE_CONVERTED_LEAD"


def test_a_locked_record_fails_once_then_succeeds() -> None:
    org = _org(leads=2)
    first, second = _ids(org, "SELECT Id FROM Lead ORDER BY Id")
    org.faults.lock_failures.add(first)
    batch = [
        {"attributes": {"type": "Lead"}, "id": lead, "Leadflow_Stage__c": "mql"}
        for lead in (first, second)
    ]
    results = org.collection("PATCH", batch, all_or_none=False)
    assert [r["success"] for r in results] == [False, True]
    assert results[0]["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW"
    assert all(r["success"] for r in org.collection("PATCH", batch, all_or_none=False))


def test_bulk_results_page_by_locator_and_keep_their_version() -> None:
    org = _org(leads=5)
    with SandboxServer(org, SandboxConfig(session_token="t")) as server:
        http = httpx.Client(
            base_url=f"{server.url}/services/data",
            headers={"Authorization": "Bearer t"},
            verify=str(server.ca_file),
            trust_env=False,
        )
        job = http.post(
            "/v66.0/jobs/query", json={"operation": "query", "query": "SELECT Id FROM Lead"}
        )
        job_id = job.json()["id"]
        assert http.get(f"/v66.0/jobs/query/{job_id}").json()["state"] == "JobComplete"
        page = http.get(f"/v66.0/jobs/query/{job_id}/results", params={"maxRecords": 3})
        assert page.headers["Sforce-NumberOfRecords"] == "3"
        last = http.get(
            f"/v66.0/jobs/query/{job_id}/results",
            params={"maxRecords": 3, "locator": page.headers["Sforce-Locator"]},
        )
        assert last.headers["Sforce-Locator"] == "null" and last.text.count("\n") == 3
        other = http.get(f"/v65.0/jobs/query/{job_id}/results")
        assert other.status_code == 409 and other.json()[0]["errorCode"] == "INVALIDJOBSTATE"
        assert http.get("/v40.0/limits").status_code == 404
        assert http.delete("/v66.0/limits").json()[0]["errorCode"] == "METHOD_NOT_ALLOWED"
        assert "api-usage=" in page.headers["Sforce-Limit-Info"]


def test_the_org_is_the_portals_people_and_the_same_every_time() -> None:
    org = generate(seed=3, people=200, now=NOW)
    portal = Portal.generate(seed=3, contacts=200, now=NOW)
    portal_emails = {c.properties.get("email") for c in portal._objects["contacts"].values()}
    lead_emails = {lead["Email"] for lead in org.records["Lead"].values()}
    assert lead_emails == portal_emails
    again = generate(seed=3, people=200, now=NOW)
    assert again.records["Lead"] == org.records["Lead"]
    assert again.records["CampaignMember"] == org.records["CampaignMember"]
