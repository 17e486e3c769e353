"""Contract: simple-salesforce 1.12.10, the most used Salesforce client for Python, works
against the Salesforce sandbox over HTTPS: the token endpoint, query / query_all /
query_more, describe, sObject create / get / update / upsert / delete, collections through
`restful`, limits and Bulk API 2.0 query and upsert, with Salesforce's error shapes."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from leadflow.sources.salesforce.sandbox.org import Org
from leadflow.sources.salesforce.sandbox.server import SandboxConfig, SandboxServer
from leadflow.sources.salesforce.sandbox.synthetic import NURTURE_CAMPAIGN, generate

NOW = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
PEOPLE = 300
VERSION = "66.0"


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(generate(seed=7, people=PEOPLE, now=NOW), SandboxConfig()) as running:
        yield running


def _session(server: SandboxServer) -> requests.Session:
    """Trusting the sandbox's CA only; trust_env off, as REQUESTS_CA_BUNDLE would win."""
    session = requests.Session()
    session.trust_env = False
    session.verify = str(server.ca_file)
    return session


def _token(server: SandboxServer, secret: str = "sandbox-secret") -> requests.Response:
    form = {"grant_type": "client_credentials", "client_id": "sandbox-client"}
    return _session(server).post(
        f"{server.url}/services/oauth2/token", data={**form, "client_secret": secret}
    )


@pytest.fixture
def sf(server: SandboxServer) -> Salesforce:
    token = _token(server).json()
    return Salesforce(
        instance_url=token["instance_url"],
        session_id=token["access_token"],
        version=VERSION,
        session=_session(server),
    )


def test_client_credentials_give_a_token_and_wrong_ones_the_oauth_error(
    server: SandboxServer,
) -> None:
    good = _token(server)
    assert good.status_code == 200
    body = good.json()
    assert body["token_type"] == "Bearer" and body["instance_url"] == server.url
    bad = _token(server, secret="wrong")
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_client"
    plain = requests.Session()
    plain.trust_env = False
    with pytest.raises(requests.exceptions.SSLError):
        plain.get(f"{server.url}/services/data/")  # a real certificate check, not verify=False


def test_query_pages_through_next_records_url(sf: Salesforce, server: SandboxServer) -> None:
    first = sf.query(
        "SELECT Id, Email FROM Lead ORDER BY Id", headers={"Sforce-Query-Options": "batchSize=200"}
    )
    assert (first["totalSize"], first["done"], len(first["records"])) == (PEOPLE, False, 200)
    assert first["nextRecordsUrl"].startswith(f"/services/data/v{VERSION}/query/01g")
    assert first["records"][0]["attributes"]["type"] == "Lead"
    rest = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert rest["done"] and len(rest["records"]) == PEOPLE - 200
    everyone = sf.query_all("SELECT Id FROM Lead")["records"]
    assert len({r["Id"] for r in everyone}) == PEOPLE
    assert sf.api_usage["api-usage"].total == 100_000  # parsed from Sforce-Limit-Info


def test_the_org_holds_the_portals_people_the_salesforce_way(sf: Salesforce) -> None:
    converted = sf.query_all(
        "SELECT Id, ConvertedContactId, Status FROM Lead WHERE IsConverted = true"
    )["records"]
    assert converted and {r["Status"] for r in converted} == {"Closed - Converted"}
    contacts = sf.query_all("SELECT Id FROM Contact")["records"]
    assert {r["ConvertedContactId"] for r in converted} == {r["Id"] for r in contacts}
    roles = sf.query_all("SELECT ContactId, OpportunityId FROM OpportunityContactRole")["records"]
    assert roles and {r["ContactId"] for r in roles} <= {r["Id"] for r in contacts}
    touches = sf.query_all("SELECT Id, WhoId, TaskSubtype FROM Task WHERE Status = 'Completed'")
    assert touches["totalSize"] > 0
    nurture = sf.query(f"SELECT Id FROM Campaign WHERE Name = '{NURTURE_CAMPAIGN}'")
    assert nurture["totalSize"] == 1
    history = sf.query_all("SELECT LeadId, Field, OldValue, NewValue FROM LeadHistory")["records"]
    assert {h["Field"] for h in history} == {"Status"}


def test_describe_reports_leadflows_fields_and_their_access(sf: Salesforce) -> None:
    fields = {f["name"]: f for f in sf.Lead.describe()["fields"]}
    assert fields["Leadflow_Stage__c"]["custom"] and fields["Leadflow_Stage__c"]["updateable"]
    assert not fields["IsConverted"]["updateable"]
    statuses = [p["value"] for p in fields["Status"]["picklistValues"]]
    assert "Closed - Converted" in statuses
    assert "Contact" in {o["name"] for o in sf.describe()["sobjects"]}


def test_sobject_create_get_update_upsert_delete(sf: Salesforce) -> None:
    created = sf.Lead.create({"LastName": "Okafor", "Company": "Brightline", "Email": "o@b.io"})
    assert created["success"] and created["id"].startswith("00Q") and len(created["id"]) == 18
    assert sf.Lead.update(created["id"], {"Leadflow_Stage__c": "mql"}) == 204
    assert sf.Lead.get(created["id"])["Leadflow_Stage__c"] == "mql"
    assert sf.Lead.get(created["id"][:15])["Id"] == created["id"]  # 15-character ids work too
    upserted = sf.Lead.upsert(f"Id/{created['id']}", {"Title": "VP Sales"})
    assert upserted == 200  # an update through upsert answers 200 since API 46.0
    with pytest.raises(SalesforceMalformedRequest) as missing:
        sf.Lead.create({"LastName": "No company"})
    assert missing.value.content[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert sf.Lead.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Lead.get(created["id"])
    deleted = sf.query_all(f"SELECT Id, IsDeleted FROM Lead WHERE Id = '{created['id']}'", True)
    assert deleted["records"][0]["IsDeleted"] is True  # queryAll sees the recycle bin


def test_collections_answer_per_record_with_status_codes(sf: Salesforce) -> None:
    converted = sf.query("SELECT Id FROM Lead WHERE IsConverted = true LIMIT 1")["records"][0]
    open_lead = sf.query("SELECT Id FROM Lead WHERE IsConverted = false LIMIT 1")["records"][0]
    body = {
        "allOrNone": False,
        "records": [
            {"attributes": {"type": "Lead"}, "id": open_lead["Id"], "Leadflow_Score__c": 71.5},
            {"attributes": {"type": "Lead"}, "id": converted["Id"], "Leadflow_Score__c": 1},
        ],
    }
    results = sf.restful("composite/sobjects", method="PATCH", json=body)
    assert [r["success"] for r in results] == [True, False]
    assert results[1]["errors"][0]["statusCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"
    body["allOrNone"] = True
    rolled = sf.restful("composite/sobjects", method="PATCH", json=body)
    assert rolled[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"


def test_malformed_soql_and_unknown_names_are_salesforce_errors(sf: Salesforce) -> None:
    for soql, code in (
        ("SELECT Id FROM Lead WHERE", "MALFORMED_QUERY"),
        ("SELECT Nope FROM Lead", "INVALID_FIELD"),
        ("SELECT Id FROM Nope", "INVALID_TYPE"),
        ("SELECT Id FROM Lead WHERE SystemModstamp > '2026-01-01T00:00:00Z'", "INVALID_FIELD"),
    ):
        with pytest.raises(SalesforceMalformedRequest) as error:
            sf.query(soql)
        assert error.value.content[0]["errorCode"] == code, soql


def test_limits_and_the_daily_allocation(server: SandboxServer, sf: Salesforce) -> None:
    daily = sf.limits()["DailyApiRequests"]
    assert daily["Max"] == 100_000 and daily["Remaining"] == 100_000 - server.org.api_used
    saved = server.org.api_max
    server.org.api_max = server.org.api_used
    try:
        with pytest.raises(SalesforceRefusedRequest) as refused:
            sf.query("SELECT Id FROM Lead LIMIT 1")
        assert refused.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    finally:
        server.org.api_max = saved


def test_bulk2_query_and_upsert(sf: Salesforce) -> None:
    pages = list(sf.bulk2.Lead.query("SELECT Id, Email, SystemModstamp FROM Lead", max_records=120))
    rows = [row for page in pages for row in csv.DictReader(io.StringIO(page))]
    assert len(pages) == 3 and len(rows) == PEOPLE
    assert rows[0]["SystemModstamp"].endswith(".000Z")
    lead = sf.query("SELECT Id FROM Lead WHERE IsConverted = false LIMIT 1")["records"][0]["Id"]
    result = sf.bulk2.Lead.upsert(
        records=[{"Id": lead, "Title": "Head of RevOps"}], external_id_field="Id"
    )
    assert result[0]["numberRecordsFailed"] == 0
    assert sf.Lead.get(lead)["Title"] == "Head of RevOps"


def test_an_expired_session_is_invalid_session_id(server: SandboxServer) -> None:
    org: Org = server.org
    token = server.issue_token()
    sf = Salesforce(
        instance_url=server.url, session_id=token, version=VERSION, session=_session(server)
    )
    sf.query("SELECT Id FROM User LIMIT 1")
    server.config.tokens.discard(token)
    with pytest.raises(SalesforceExpiredSession) as expired:
        sf.query("SELECT Id FROM User LIMIT 1")
    assert expired.value.content[0]["errorCode"] == "INVALID_SESSION_ID"
    assert org.api_used > 0


def test_leadflow_sandbox_salesforce_serves_with_its_ca_file_and_configured_app(
    tmp_path: Path,
) -> None:
    ca = tmp_path / "ca.pem"
    env = {
        **os.environ,
        "SALESFORCE_SANDBOX_CLIENT_ID": "ci-client",
        "SALESFORCE_SANDBOX_CLIENT_SECRET": "ci-secret",
    }
    leadflow = Path(sys.executable).with_name("leadflow")
    command = [str(leadflow), "sandbox", "salesforce", "--port", "0", "--contacts", "20"]
    with subprocess.Popen(
        [*command, "--ca-file", str(ca)], env=env, stdout=subprocess.PIPE, text=True
    ) as served:
        try:
            assert served.stdout is not None
            line = served.stdout.readline()
            url = re.search(r"https://127\.0\.0\.1:\d+", line)
            assert url and ca.exists(), line
            session = requests.Session()
            session.trust_env = False
            session.verify = str(ca)
            token = session.post(
                f"{url.group(0)}/services/oauth2/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": "ci-client",
                    "client_secret": "ci-secret",
                },
            ).json()
            sf = Salesforce(
                instance_url=token["instance_url"],
                session_id=token["access_token"],
                version=VERSION,
                session=session,
            )
            assert sf.query("SELECT Id FROM Lead")["totalSize"] == 20
        finally:
            served.terminate()
