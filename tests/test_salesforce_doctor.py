"""`leadflow doctor`'s Salesforce checks against the sandbox: a ready org passes, and a fresh
one, hidden or read-only fields, an unserved API version and a wrong secret each give a
failing line that names the fix."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from leadflow.doctor import Check
from leadflow.sources.salesforce.doctor import checks
from leadflow.sources.salesforce.fields import FIELDS
from leadflow.sources.salesforce.sandbox.org import Org
from leadflow.sources.salesforce.sandbox.server import SandboxConfig, SandboxServer


@pytest.fixture
def server() -> Iterator[SandboxServer]:
    with SandboxServer(Org(), SandboxConfig()) as running:
        yield running


def _failing(results: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in results if c.status == "fail"}


def test_a_ready_org_passes_every_check(server: SandboxServer) -> None:
    results = checks(server.client_settings())
    assert _failing(results) == {}
    names = [c.name for c in results]
    assert "read Lead" in names and "write Contact" in names and "API version" in names


def test_a_fresh_org_gets_the_definitions_to_create(server: SandboxServer) -> None:
    server.org.without_leadflow_fields()
    failing = _failing(checks(server.client_settings()))
    assert set(failing) == {"write Lead", "write Contact"}
    fix = failing["write Lead"].line()
    for field in FIELDS:
        assert field.definition() in fix
    assert "Leadflow Stage (Leadflow_Stage__c): Text(40)" in fix


def test_field_level_security_names_the_fields_and_the_access(server: SandboxServer) -> None:
    server.org.hidden_fields.add(("Lead", "Status"))
    server.org.read_only_fields.add(("Contact", "Leadflow_Score__c"))
    failing = _failing(checks(server.client_settings()))
    assert "Status" in failing["read Lead"].detail and "Read" in failing["read Lead"].fix
    assert "Leadflow_Score__c" in failing["write Contact"].detail
    assert "Edit access" in failing["write Contact"].fix


def test_an_unserved_version_and_a_wrong_secret_fail_clearly(server: SandboxServer) -> None:
    old = _failing(checks(server.client_settings(api_version="40.0")))
    assert "v40.0 is not served" in old["API version"].detail
    refused = _failing(checks(server.client_settings(client_secret="nope")))
    assert "invalid_client" in refused["login (client credentials)"].fix
    assert "nope" not in refused["login (client credentials)"].line()
