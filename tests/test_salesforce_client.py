"""leadflow's Salesforce client against the Salesforce sandbox over HTTPS: login, paging, the
(SystemModstamp, Id) keyset across windows, a session that expires mid-run, the reserved share
of the daily allocation, Bulk API 2.0 and collections' per-record results."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from leadflow.errors import ConfigError
from leadflow.sources.salesforce.client import (
    ApiAllocationReserved,
    SalesforceApiError,
    SalesforceClient,
    parse_time,
)
from leadflow.sources.salesforce.sandbox.org import Org
from leadflow.sources.salesforce.sandbox.server import SandboxConfig, SandboxServer

NOW = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
LEADS = 450


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    org = Org()
    # Three seconds of writes: 150 leads share each SystemModstamp.
    for i in range(LEADS):
        at = NOW + timedelta(seconds=i // 150)
        org.insert(
            "Lead", {"LastName": f"L{i}", "Company": "Acme", "Email": f"l{i}@acme.io"}, at=at
        )
    with SandboxServer(org, SandboxConfig()) as running:
        yield running


def _client(server: SandboxServer, **changes: object) -> SalesforceClient:
    return SalesforceClient(server.client_settings(query_batch_size=200, backoff_s=0, **changes))


def test_query_reads_every_page(server: SandboxServer) -> None:
    with _client(server) as client:
        leads = list(client.query("SELECT Id, Email FROM Lead"))
        assert len({lead["Id"] for lead in leads}) == LEADS
        assert client.requests_sent == 4  # the limits, then 200 + 200 + 50
        assert client.usage is not None and client.usage.allowed == 100_000


def test_keyset_windows_read_each_record_once_across_shared_seconds(
    server: SandboxServer,
) -> None:
    with _client(server) as client:
        end = NOW + timedelta(hours=1)
        seen: list[str] = []
        cursor = None
        # Read in slices that stop inside a second, as a run cut short by its interval would.
        for _ in range(10):
            batch = []
            for record in client.changed("Lead", ["Email"], cursor, end):
                batch.append(record)
                if len(batch) == 70:
                    break
            if not batch:
                break
            seen += [r["Id"] for r in batch]
            last = batch[-1]
            cursor = (parse_time(last["SystemModstamp"]), last["Id"])
        assert len(seen) == LEADS and len(set(seen)) == LEADS


def test_an_expired_session_logs_in_again(server: SandboxServer) -> None:
    with _client(server) as client:
        client.limits()
        server.expire_sessions()
        assert client.limits()["DailyApiRequests"]["Max"] == 100_000
        statuses = [status for _, path, status in server.request_log if "limits" in path]
        assert statuses == [200, 401, 200]


def test_it_stops_at_the_reserved_share_of_the_allocation(server: SandboxServer) -> None:
    server.org.api_max = 1000
    server.org.api_used = 895  # 10% of 1,000 is reserved: five calls may still be made
    with _client(server) as client:
        with pytest.raises(ApiAllocationReserved, match="900 of 1,000.* 100 left"):
            for _ in range(10):
                client.limits()
        assert client.requests_sent == 5 and server.org.api_used == 900


def test_a_wrong_secret_is_a_config_error_that_never_shows_it(server: SandboxServer) -> None:
    with (
        _client(server, client_secret="not-the-secret") as client,
        pytest.raises(ConfigError) as refused,
    ):
        client.limits()
    assert "invalid_client" in str(refused.value)
    assert "not-the-secret" not in str(refused.value)


def test_errors_carry_salesforces_code(server: SandboxServer) -> None:
    with _client(server) as client, pytest.raises(SalesforceApiError) as bad:
        list(client.query("SELECT Nope FROM Lead"))
    assert bad.value.status == 400 and bad.value.category == "INVALID_FIELD"


def test_bulk_query_and_collection_updates(server: SandboxServer) -> None:
    with _client(server) as client:
        rows = list(client.bulk_query("SELECT Id, Email FROM Lead"))
        assert len(rows) == LEADS and rows[0]["Email"].endswith("@acme.io")
        first = rows[0]["Id"]
        server.org.convert_lead(rows[1]["Id"])
        updates = [{"id": r["Id"], "Leadflow_Stage__c": "mql"} for r in rows[:250]]
        results = client.update("Lead", updates)
        assert len(results) == 250 and client.requests_sent >= 4
        failed = [r for r in results if not r["success"]]
        assert [f["errors"][0]["statusCode"] for f in failed] == ["CANNOT_UPDATE_CONVERTED_LEAD"]
        assert server.org.records["Lead"][first]["Leadflow_Stage__c"] == "mql"
