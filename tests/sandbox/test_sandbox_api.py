"""The sandbox over real HTTP: every endpoint, HubSpot's rules, limits, faults and generation."""

from __future__ import annotations

import collections
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

import leadflow
from leadflow.sources.hubspot.sandbox import Portal, SandboxConfig, SandboxServer
from leadflow.sources.hubspot.sandbox.properties import LIFECYCLE_STAGES
from leadflow.sources.hubspot.sandbox.values import iso, parse_ms, to_ms

if TYPE_CHECKING:
    from conftest import Sandbox

MakeSandbox = Callable[..., "Sandbox"]

CONTACTS = "/crm/v3/objects/contacts"


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def _error(response: httpx.Response, status: int, category: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "error"
    assert body["category"] == category
    uuid.UUID(body["correlationId"])
    return body


def _search(sandbox: Sandbox, body: dict[str, Any]) -> httpx.Response:
    return sandbox.http.post(f"{CONTACTS}/search", json=body)


def _filters(*filters: dict[str, Any]) -> dict[str, Any]:
    return {"filterGroups": [{"filters": list(filters)}], "limit": 200}


def _batch(sandbox: Sandbox, op: str, inputs: list[dict[str, Any]], **extra: Any) -> httpx.Response:
    return sandbox.http.post(f"{CONTACTS}/batch/{op}", json={"inputs": inputs, **extra})


# -- objects -----------------------------------------------------------------------------------


def test_list_pages_every_contact_exactly_once(generated: Sandbox) -> None:
    seen, params, pages = [], {"limit": 100}, 0
    while True:
        body = _ok(generated.http.get(CONTACTS, params=params))
        seen += [int(r["id"]) for r in body["results"]]
        pages += 1
        if "paging" not in body:
            break
        assert body["paging"]["next"]["link"].startswith(generated.server.url + CONTACTS)
        params["after"] = body["paging"]["next"]["after"]
    assert len(seen) == len(set(seen)) == 5000
    assert seen == sorted(seen)
    assert pages == 50


def test_list_limit_over_100_is_rejected(generated: Sandbox) -> None:
    _error(generated.http.get(CONTACTS, params={"limit": 101}), 400, "VALIDATION_ERROR")


def test_list_renders_defaults_or_requested_properties(generated: Sandbox) -> None:
    default = _ok(generated.http.get(CONTACTS, params={"limit": 1}))["results"][0]
    assert set(default["properties"]) == {
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    }
    assert default["properties"]["hs_object_id"] == default["id"]
    assert default["properties"]["createdate"] == default["createdAt"]
    assert default["archived"] is False
    # Repeated params (the SDK's style) and unknown names (ignored, like HubSpot).
    body = _ok(
        generated.http.get(
            CONTACTS,
            params=[("limit", 1), ("properties", "jobtitle"), ("properties", "bant_need,nope")],
        )
    )
    props = body["results"][0]["properties"]
    assert set(props) == {"jobtitle", "bant_need", "hs_object_id", "createdate", "lastmodifieddate"}
    companies = _ok(generated.http.get("/crm/v3/objects/companies", params={"limit": 1}))
    assert set(companies["results"][0]["properties"]) == {
        "createdate",
        "domain",
        "hs_lastmodifieddate",
        "hs_object_id",
        "name",
    }


def test_read_one_by_id_and_by_email(generated: Sandbox) -> None:
    first = _ok(generated.http.get(f"{CONTACTS}/1", params={"properties": "email,country"}))
    assert first["id"] == "1" and "country" in first["properties"]
    email = first["properties"]["email"]
    by_email = _ok(
        generated.http.get(f"{CONTACTS}/{email.upper()}", params={"idProperty": "email"})
    )
    assert by_email["id"] == "1"
    body = _error(generated.http.get(f"{CONTACTS}/999999"), 404, "OBJECT_NOT_FOUND")
    assert body["message"]


def test_archive_hides_objects_except_with_archived_true(sandbox: Sandbox) -> None:
    ids = [sandbox.portal.add_contact({"email": f"c{i}@acme.com"}) for i in range(3)]
    assert _ok(_batch(sandbox, "archive", [{"id": str(ids[1])}, {"id": "424242"}]), 204) is None
    live = _ok(sandbox.http.get(CONTACTS))["results"]
    assert [r["id"] for r in live] == [str(ids[0]), str(ids[2])]
    archived = _ok(sandbox.http.get(CONTACTS, params={"archived": "true"}))["results"]
    assert [r["id"] for r in archived] == [str(ids[1])]
    assert archived[0]["archived"] is True and archived[0]["archivedAt"] == iso(to_ms(sandbox.now))
    _error(sandbox.http.get(f"{CONTACTS}/{ids[1]}"), 404, "OBJECT_NOT_FOUND")
    _ok(sandbox.http.get(f"{CONTACTS}/{ids[1]}", params={"archived": "true"}))
    # The archived contact's email is free again.
    _ok(_batch(sandbox, "create", [{"properties": {"email": "c1@acme.com"}}]), 201)


def test_single_object_create_patch_delete(sandbox: Sandbox) -> None:
    created = _ok(sandbox.http.post(CONTACTS, json={"properties": {"email": "A@X.com"}}), 201)
    assert created["properties"]["email"] == "a@x.com"
    oid = created["id"]
    patched = _ok(sandbox.http.patch(f"{CONTACTS}/{oid}", json={"properties": {"city": "Oslo"}}))
    assert patched["properties"]["city"] == "Oslo"
    _error(
        sandbox.http.patch(f"{CONTACTS}/{oid}", json={"properties": {"nope": "1"}}),
        400,
        "VALIDATION_ERROR",
    )
    _error(sandbox.http.post(CONTACTS, json={"properties": {"email": "a@x.com"}}), 409, "CONFLICT")
    assert _ok(sandbox.http.delete(f"{CONTACTS}/{oid}"), 204) is None
    _error(sandbox.http.get(f"{CONTACTS}/{oid}"), 404, "OBJECT_NOT_FOUND")


# -- search ------------------------------------------------------------------------------------


@pytest.fixture
def people(sandbox: Sandbox) -> Sandbox:
    """Five contacts with known values for filter tests."""
    rows = [
        (
            {
                "email": "ann@acme.com",
                "firstname": "Ann",
                "country": "US",
                "lifecyclestage": "lead",
            },
            1,
        ),
        ({"email": "bob@gmail.com", "firstname": "Bob", "country": "GB"}, 2),
        ({"email": "cy@acme.com", "firstname": "Cy", "jobtitle": "VP Sales"}, 3),
        (
            {
                "email": "di@beta.io",
                "firstname": "Di",
                "country": "us",
                "lifecyclestage": "customer",
            },
            4,
        ),
        ({"email": "ed@gmail.com", "firstname": "Ed", "associatedcompanyid": "12"}, 5),
    ]
    for props, day in rows:
        sandbox.portal.add_contact(props, created_at=sandbox.now - timedelta(days=10 - day))
    return sandbox


def _emails(response: httpx.Response) -> set[str]:
    return {r["properties"]["email"] for r in _ok(response)["results"]}


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"propertyName": "country", "operator": "EQ", "value": "US"}, {"ann", "di"}),
        ({"propertyName": "country", "operator": "NEQ", "value": "us"}, {"bob", "cy", "ed"}),
        (
            {"propertyName": "country", "operator": "IN", "values": ["gb", "US"]},
            {"ann", "bob", "di"},
        ),
        ({"propertyName": "country", "operator": "NOT_IN", "values": ["us"]}, {"bob", "cy", "ed"}),
        ({"propertyName": "jobtitle", "operator": "HAS_PROPERTY"}, {"cy"}),
        ({"propertyName": "country", "operator": "NOT_HAS_PROPERTY"}, {"cy", "ed"}),
        (
            {"propertyName": "email", "operator": "CONTAINS_TOKEN", "value": "*@gmail.com"},
            {"bob", "ed"},
        ),
        (
            {"propertyName": "email", "operator": "CONTAINS_TOKEN", "value": "acme.com"},
            {"ann", "cy"},
        ),
        (
            {"propertyName": "email", "operator": "NOT_CONTAINS_TOKEN", "value": "acme.com"},
            {"bob", "di", "ed"},
        ),
        (
            {"propertyName": "hs_object_id", "operator": "BETWEEN", "value": "2", "highValue": "4"},
            {"bob", "cy", "di"},
        ),
        ({"propertyName": "hs_object_id", "operator": "GT", "value": "10"}, set()),
        ({"propertyName": "associatedcompanyid", "operator": "LT", "value": "100"}, {"ed"}),
        # {ms}, {iso}, {offset}: the same instant (cy's createdate) as epoch ms and two ISO forms.
        ({"propertyName": "createdate", "operator": "GTE", "value": "{ms}"}, {"cy", "di", "ed"}),
        ({"propertyName": "createdate", "operator": "LT", "value": "{iso}"}, {"ann", "bob"}),
        ({"propertyName": "createdate", "operator": "EQ", "value": "{offset}"}, {"cy"}),
        ({"propertyName": "lifecyclestage", "operator": "LTE", "value": "lead"}, {"ann", "di"}),
    ],
)
def test_search_operators(people: Sandbox, flt: dict[str, Any], expected: set[str]) -> None:
    moment = people.now - timedelta(days=7)
    forms = {"ms": to_ms(moment), "iso": iso(to_ms(moment)), "offset": moment.isoformat()}
    flt = {k: v.format(**forms) if isinstance(v, str) else v for k, v in flt.items()}
    found = _emails(_search(people, _filters(flt)))
    assert {e.split("@")[0] for e in found} == expected


def test_search_groups_are_ored_and_filters_anded(people: Sandbox) -> None:
    body = {
        "filterGroups": [
            {
                "filters": [
                    {"propertyName": "country", "operator": "EQ", "value": "us"},
                    {"propertyName": "lifecyclestage", "operator": "EQ", "value": "lead"},
                ]
            },
            {"filters": [{"propertyName": "firstname", "operator": "EQ", "value": "ED"}]},
        ]
    }
    assert _emails(_search(people, body)) == {"ann@acme.com", "ed@gmail.com"}


def test_search_sorting_and_properties(people: Sandbox) -> None:
    by_id = _ok(_search(people, {}))["results"]
    assert [r["id"] for r in by_id] == ["1", "2", "3", "4", "5"]
    desc = _ok(
        _search(
            people,
            {
                "sorts": [{"propertyName": "createdate", "direction": "DESCENDING"}],
                "properties": ["country"],
            },
        )
    )["results"]
    assert [r["id"] for r in desc] == ["5", "4", "3", "2", "1"]
    assert set(desc[0]["properties"]) == {
        "country",
        "createdate",
        "hs_object_id",
        "lastmodifieddate",
    }
    # String sorts; records without the property come last.
    by_country = _ok(_search(people, {"sorts": ["-country"]}))["results"]
    assert [r["id"] for r in by_country] == ["1", "4", "2", "3", "5"]
    assert _emails(_search(people, {"query": "acme"})) == {"ann@acme.com", "cy@acme.com"}


def test_search_paging_reports_total_and_covers_all(generated: Sandbox) -> None:
    flt = {"propertyName": "hs_object_id", "operator": "LTE", "value": "1200"}
    body, seen = {**_filters(flt), "limit": 100}, []
    while True:
        page = _ok(_search(generated, body))
        assert page["total"] == 1200
        seen += [r["id"] for r in page["results"]]
        if "paging" not in page:
            break
        body["after"] = page["paging"]["next"]["after"]
    assert len(seen) == len(set(seen)) == 1200


def test_search_cap_at_ten_thousand_results(generated: Sandbox) -> None:
    _ok(_search(generated, {"limit": 200, "after": "9800"}))
    body = _error(_search(generated, {"limit": 200, "after": "10000"}), 400, "VALIDATION_ERROR")
    assert "10000" in body["message"]
    _error(_search(generated, {"limit": 201}), 400, "VALIDATION_ERROR")


@pytest.mark.parametrize(("groups", "filters"), [(6, 1), (1, 11), (3, 9)])
def test_search_filter_limits(sandbox: Sandbox, groups: int, filters: int) -> None:
    flt = {"propertyName": "email", "operator": "HAS_PROPERTY"}
    body = {"filterGroups": [{"filters": [flt] * filters}] * groups}
    _error(_search(sandbox, body), 400, "VALIDATION_ERROR")


def test_search_accepts_the_maximum_filters(sandbox: Sandbox) -> None:
    flt = {"propertyName": "email", "operator": "HAS_PROPERTY"}
    _ok(_search(sandbox, {"filterGroups": [{"filters": [flt] * 10}, {"filters": [flt] * 10}]}))
    _ok(_search(sandbox, {"filterGroups": [{"filters": [flt] * 5}] * 5}))


@pytest.mark.parametrize(
    "flt",
    [
        {"propertyName": "nope", "operator": "EQ", "value": "1"},
        {"propertyName": "email", "operator": "LIKE", "value": "1"},
        {"propertyName": "createdate", "operator": "GT", "value": "yesterday"},
        {"propertyName": "email", "operator": "IN"},
    ],
)
def test_search_rejects_bad_filters(sandbox: Sandbox, flt: dict[str, Any]) -> None:
    _error(_search(sandbox, _filters(flt)), 400, "VALIDATION_ERROR")


def test_search_excludes_archived_and_sees_writes(people: Sandbox) -> None:
    flt = {"propertyName": "email", "operator": "CONTAINS_TOKEN", "value": "acme.com"}
    assert len(_emails(_search(people, _filters(flt)))) == 2
    people.portal.archive_object("contacts", 1)
    people.portal.update_object("contacts", 4, {"email": "di@acme.com"})
    assert _emails(_search(people, _filters(flt))) == {"cy@acme.com", "di@acme.com"}


# -- batch -------------------------------------------------------------------------------------


def test_batch_read_reports_missing_ids_with_207(generated: Sandbox) -> None:
    response = _batch(
        generated,
        "read",
        [{"id": "1"}, {"id": "2"}, {"id": "999998"}, {"id": "999999"}],
        properties=["email"],
    )
    body = _ok(response, 207)
    assert sorted(r["id"] for r in body["results"]) == ["1", "2"]
    assert body["numErrors"] == 1
    error = body["errors"][0]
    assert error["category"] == "OBJECT_NOT_FOUND"
    assert error["context"]["ids"] == ["999998", "999999"]
    by_email = _ok(
        _batch(
            generated,
            "read",
            [{"id": body["results"][0]["properties"]["email"]}],
            idProperty="email",
        )
    )
    assert len(by_email["results"]) == 1


def test_batch_update_applies_and_bumps_modified(sandbox: Sandbox) -> None:
    created = sandbox.now - timedelta(days=3)
    cid = sandbox.portal.add_contact({"email": "a@acme.com"}, created_at=created)
    later = sandbox.now + timedelta(minutes=5)
    sandbox.portal.clock = lambda: later
    body = _ok(
        _batch(
            sandbox,
            "update",
            [
                {
                    "id": str(cid),
                    "properties": {
                        "firstname": "Ann",
                        "bant_need": "yes",
                        "associatedcompanyid": 7,
                    },
                }
            ],
        )
    )
    assert body["status"] == "COMPLETE" and body["startedAt"] and body["completedAt"]
    stored = sandbox.portal.get_object("contacts", cid)
    assert stored["properties"]["firstname"] == "Ann"
    assert stored["properties"]["associatedcompanyid"] == "7"
    assert stored["updatedAt"] == stored["properties"]["hs_lastmodifieddate"] == iso(to_ms(later))
    assert stored["properties"]["lastmodifieddate"] == iso(to_ms(later))
    assert stored["createdAt"] == iso(to_ms(created))


def test_batch_update_partial_failures_are_per_record(sandbox: Sandbox) -> None:
    ids = [str(sandbox.portal.add_contact({"email": f"u{i}@acme.com"})) for i in range(5)]
    response = _batch(
        sandbox,
        "update",
        [
            {"id": ids[0], "properties": {"city": "Paris"}},
            {"id": ids[1], "properties": {"nope": "x"}},
            {"id": ids[2], "properties": {"hs_object_id": "5", "city": "Rome"}},
            {"id": ids[3], "properties": {"lifecyclestage": "prospect"}},
            {"id": "424242", "properties": {"city": "Oslo"}},
            {"id": ids[4], "properties": {"hubspot_owner_id": "101"}},
        ],
    )
    body = _ok(response, 207)
    assert [r["id"] for r in body["results"]] == [ids[0]]
    assert body["numErrors"] == len(body["errors"]) == 5
    by_id = {e["context"]["ids"][0]: e for e in body["errors"]}
    assert by_id["424242"]["category"] == "OBJECT_NOT_FOUND"
    assert by_id[ids[1]]["message"] == 'Property "nope" does not exist'
    assert by_id[ids[2]]["errors"][0]["code"] == "READ_ONLY_VALUE"
    assert by_id[ids[3]]["errors"][0]["code"] == "INVALID_OPTION"
    assert by_id[ids[4]]["errors"][0]["context"] == {"propertyName": ["hubspot_owner_id"]}
    assert all(e["category"] == "VALIDATION_ERROR" for i, e in by_id.items() if i != "424242")
    # Nothing of a failed input is applied, not even its valid properties.
    assert "city" not in sandbox.portal.get_object("contacts", int(ids[2]))["properties"]


def test_lifecycle_moves_forward_only_unless_cleared(sandbox: Sandbox) -> None:
    cid = str(sandbox.portal.add_contact({"email": "l@acme.com", "lifecyclestage": "lead"}))

    def set_stage(stage: str) -> httpx.Response:
        return _batch(sandbox, "update", [{"id": cid, "properties": {"lifecyclestage": stage}}])

    _ok(set_stage("customer"))
    body = _ok(set_stage("lead"), 207)
    assert body["errors"][0]["category"] == "VALIDATION_ERROR"
    assert "backward" in body["errors"][0]["message"]
    assert (
        sandbox.portal.get_object("contacts", int(cid))["properties"]["lifecyclestage"]
        == "customer"
    )
    _ok(set_stage("customer"))
    _ok(set_stage(""))
    assert "lifecyclestage" not in sandbox.portal.get_object("contacts", int(cid))["properties"]
    _ok(set_stage("lead"))


def test_empty_string_clears_a_property(sandbox: Sandbox) -> None:
    cid = sandbox.portal.add_contact({"email": "e@acme.com", "city": "Paris"})
    _ok(_batch(sandbox, "update", [{"id": str(cid), "properties": {"city": ""}}]))
    read = _ok(sandbox.http.get(f"{CONTACTS}/{cid}", params={"properties": "city"}))
    assert read["properties"]["city"] is None


def test_batch_create_with_associations_and_conflicts(sandbox: Sandbox) -> None:
    company = sandbox.portal.add_company({"name": "Acme", "domain": "acme.com"})
    sandbox.portal.add_contact({"email": "taken@acme.com"})
    assoc = [
        {
            "to": {"id": str(company)},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}],
        }
    ]
    body = _ok(
        _batch(
            sandbox,
            "create",
            [
                {
                    "properties": {"email": "new@acme.com", "lifecyclestage": "lead"},
                    "associations": assoc,
                },
                {"properties": {"email": "TAKEN@acme.com"}},
                {"properties": {"lifecyclestage": "nope"}},
            ],
        ),
        207,
    )
    assert len(body["results"]) == 1
    new = body["results"][0]
    assert new["properties"]["associatedcompanyid"] == str(company)
    assert {e["category"]: e["context"] for e in body["errors"]} == {
        "CONFLICT": {"inputIndex": ["1"]},
        "VALIDATION_ERROR": {"inputIndex": ["2"]},
    }
    ok = _batch(sandbox, "create", [{"properties": {"email": "x@acme.com"}}])
    assert _ok(ok, 201)["results"][0]["properties"]["email"] == "x@acme.com"


def test_batch_upsert_by_email(sandbox: Sandbox) -> None:
    cid = sandbox.portal.add_contact({"email": "old@acme.com", "city": "Paris"})
    body = _ok(
        _batch(
            sandbox,
            "upsert",
            [
                {"id": "old@acme.com", "idProperty": "email", "properties": {"city": "Lyon"}},
                {"id": "New@Acme.com", "idProperty": "email", "properties": {"firstname": "Nu"}},
            ],
        )
    )
    by_email = {r["properties"]["email"]: r for r in body["results"]}
    assert by_email["old@acme.com"]["new"] is False
    assert by_email["old@acme.com"]["id"] == str(cid)
    assert by_email["old@acme.com"]["properties"]["city"] == "Lyon"
    assert by_email["new@acme.com"]["new"] is True
    assert by_email["new@acme.com"]["properties"]["firstname"] == "Nu"


def test_batch_update_by_id_property(sandbox: Sandbox) -> None:
    cid = sandbox.portal.add_contact({"email": "who@acme.com"})
    _ok(
        _batch(
            sandbox,
            "update",
            [{"id": "who@acme.com", "properties": {"city": "Rome"}}],
            idProperty="email",
        )
    )
    assert sandbox.portal.get_object("contacts", cid)["properties"]["city"] == "Rome"
    body = _ok(
        _batch(
            sandbox, "update", [{"id": "x", "idProperty": "city", "properties": {"city": "Rome"}}]
        ),
        207,
    )
    assert body["errors"][0]["category"] == "VALIDATION_ERROR"


def test_batch_input_limits(sandbox: Sandbox) -> None:
    many = [{"id": str(i)} for i in range(101)]
    for op in ("read", "update", "upsert", "create", "archive"):
        _error(_batch(sandbox, op, many), 400, "VALIDATION_ERROR")
    _error(sandbox.http.post(f"{CONTACTS}/batch/read", json={"nope": 1}), 400, "VALIDATION_ERROR")


# -- properties and owners ---------------------------------------------------------------------


def test_property_definitions(generated: Sandbox) -> None:
    props = {
        p["name"]: p for p in _ok(generated.http.get("/crm/v3/properties/contacts"))["results"]
    }
    stage = props["lifecyclestage"]
    assert stage["type"] == "enumeration"
    assert [o["value"] for o in sorted(stage["options"], key=lambda o: o["displayOrder"])] == list(
        LIFECYCLE_STAGES
    )
    assert props["hs_object_id"]["modificationMetadata"]["readOnlyValue"] is True
    assert props["createdate"]["type"] == "datetime"
    assert props["bant_budget"]["hubspotDefined"] is False
    assert {o["value"] for o in props["hs_lead_status"]["options"]} >= {"NEW", "IN_PROGRESS"}
    assert props["hs_analytics_source"]["options"][0]["value"] == "ORGANIC_SEARCH"
    companies = _ok(generated.http.get("/crm/v3/properties/companies"))["results"]
    industry = next(p for p in companies if p["name"] == "industry")
    assert "COMPUTER_SOFTWARE" in {o["value"] for o in industry["options"]}
    deals = _ok(generated.http.get("/crm/v3/properties/deals/dealstage"))
    assert deals["options"][-1]["value"] == "closedlost"
    _error(generated.http.get("/crm/v3/properties/deals/nope"), 404, "OBJECT_NOT_FOUND")
    _error(generated.http.get("/crm/v3/properties/widgets"), 400, "VALIDATION_ERROR")


def test_property_create_then_conflict_then_use(sandbox: Sandbox) -> None:
    definition = {
        "name": "lead_score",
        "label": "Lead score",
        "type": "number",
        "fieldType": "number",
        "groupName": "contactinformation",
    }
    created = _ok(sandbox.http.post("/crm/v3/properties/contacts", json=definition), 201)
    assert created["hubspotDefined"] is False and created["type"] == "number"
    _error(sandbox.http.post("/crm/v3/properties/contacts", json=definition), 409, "CONFLICT")
    _error(
        sandbox.http.post("/crm/v3/properties/contacts", json={"name": "x"}),
        400,
        "VALIDATION_ERROR",
    )
    _ok(sandbox.http.get("/crm/v3/properties/contacts/lead_score"))
    cid = sandbox.portal.add_contact({"email": "s@acme.com"})
    _ok(_batch(sandbox, "update", [{"id": str(cid), "properties": {"lead_score": "87"}}]))
    body = _ok(
        _batch(sandbox, "update", [{"id": str(cid), "properties": {"lead_score": "hi"}}]), 207
    )
    assert body["errors"][0]["errors"][0]["code"] == "INVALID_NUMBER"
    hits = _search(
        sandbox, _filters({"propertyName": "lead_score", "operator": "GT", "value": "50"})
    )
    assert _ok(hits)["total"] == 1


def test_owners_paging_and_archived(make_sandbox: MakeSandbox) -> None:
    portal = Portal()
    ids = [portal.add_owner(f"o{i}@example.com", f"O{i}", "Owner") for i in range(5)]
    portal.add_owner("gone@example.com", "Gone", "Owner", archived=True)
    sandbox = make_sandbox(portal)
    seen, params = [], {"limit": 2}
    while True:
        body = _ok(sandbox.http.get("/crm/v3/owners", params=params))
        seen += body["results"]
        if "paging" not in body:
            break
        params["after"] = body["paging"]["next"]["after"]
    assert [o["id"] for o in seen] == [str(i) for i in ids]
    first = seen[0]
    assert first["email"] == "o0@example.com" and first["type"] == "PERSON"
    assert isinstance(first["userId"], int) and first["archived"] is False
    archived = _ok(sandbox.http.get("/crm/v3/owners", params={"archived": "true"}))["results"]
    assert [o["email"] for o in archived] == ["gone@example.com"]
    _ok(sandbox.http.get(f"/crm/v3/owners/{ids[0]}"))
    _error(sandbox.http.get("/crm/v3/owners/9"), 404, "OBJECT_NOT_FOUND")
    cid = portal.add_contact({"email": "c@acme.com"})
    _ok(
        _batch(
            sandbox, "update", [{"id": str(cid), "properties": {"hubspot_owner_id": str(ids[1])}}]
        )
    )


# -- associations ------------------------------------------------------------------------------


def _types(rows: list[dict[str, Any]]) -> dict[int, list[int]]:
    return {row["toObjectId"]: [t["typeId"] for t in row["associationTypes"]] for row in rows}


def test_associations_v4_both_directions_and_primary(sandbox: Sandbox) -> None:
    portal = sandbox.portal
    contact = portal.add_contact({"email": "p@acme.com"})
    acme, beta = (portal.add_company({"name": n}) for n in ("Acme", "Beta"))
    portal.associate("contact", contact, "company", acme, 1)
    url = f"/crm/v4/objects/contacts/{contact}/associations/companies"
    rows = _ok(sandbox.http.get(url))["results"]
    assert _types(rows) == {acme: [1, 279]}
    assert rows[0]["associationTypes"][0] == {
        "category": "HUBSPOT_DEFINED",
        "typeId": 1,
        "label": "Primary",
    }
    back = _ok(sandbox.http.get(f"/crm/v4/objects/companies/{acme}/associations/contacts"))
    assert _types(back["results"]) == {contact: [2, 280]}
    # A new primary company demotes the old one to unlabeled.
    portal.associate("contacts", contact, "companies", beta, 1)
    assert _types(_ok(sandbox.http.get(url))["results"]) == {acme: [279], beta: [1, 279]}
    assert portal.get_object("contacts", contact)["properties"]["associatedcompanyid"] == str(beta)
    with pytest.raises(Exception, match="not valid"):
        portal.associate("contacts", contact, "companies", acme, 3)


def test_associations_batch_read_and_default_put(sandbox: Sandbox) -> None:
    portal = sandbox.portal
    lonely, linked = (portal.add_contact({"email": f"{n}@acme.com"}) for n in ("l", "k"))
    deal = portal.add_deal({"dealname": "Big", "dealstage": "closedwon"})
    put = sandbox.http.put(f"/crm/v4/objects/deals/{deal}/associations/default/contacts/{linked}")
    specs = [r["associationSpec"]["associationTypeId"] for r in _ok(put)["results"]]
    assert specs == [3, 4]
    body = _ok(
        sandbox.http.post(
            "/crm/v4/associations/contacts/deals/batch/read",
            json={"inputs": [{"id": str(lonely)}, {"id": str(linked)}]},
        )
    )
    assert body["status"] == "COMPLETE"
    assert body["results"] == [
        {
            "from": {"id": str(linked)},
            "to": [
                {
                    "toObjectId": deal,
                    # unlabeled: no label key, as the spec's label is never null
                    "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 4}],
                }
            ],
        }
    ]
    _error(
        sandbox.http.put(f"/crm/v4/objects/deals/{deal}/associations/default/contacts/9999"),
        404,
        "OBJECT_NOT_FOUND",
    )
    too_many = {"inputs": [{"id": str(i)} for i in range(1001)]}
    _error(
        sandbox.http.post("/crm/v4/associations/contacts/deals/batch/read", json=too_many),
        400,
        "VALIDATION_ERROR",
    )


def test_association_paging(sandbox: Sandbox) -> None:
    company = sandbox.portal.add_company({"name": "Big"})
    contacts = [sandbox.portal.add_contact({"email": f"m{i}@big.com"}) for i in range(5)]
    for cid in contacts:
        sandbox.portal.associate("contacts", cid, "companies", company)
    url = f"/crm/v4/objects/companies/{company}/associations/contacts"
    seen, params = [], {"limit": 2}
    while True:
        body = _ok(sandbox.http.get(url, params=params))
        seen += [row["toObjectId"] for row in body["results"]]
        if "paging" not in body:
            break
        params["after"] = body["paging"]["next"]["after"]
    assert seen == contacts


def test_generated_deals_link_contacts_and_companies(generated: Sandbox) -> None:
    deal_ids, params = [], {"limit": 100}
    while True:
        body = _ok(generated.http.get("/crm/v3/objects/deals", params=params))
        deal_ids += [r["id"] for r in body["results"]]
        if "paging" not in body:
            break
        params["after"] = body["paging"]["next"]["after"]
    inputs = {"inputs": [{"id": i} for i in deal_ids]}
    to_contacts = _ok(
        generated.http.post("/crm/v4/associations/deals/contacts/batch/read", json=inputs)
    )["results"]
    assert sorted(r["from"]["id"] for r in to_contacts) == sorted(deal_ids)
    to_companies = _ok(
        generated.http.post("/crm/v4/associations/deals/companies/batch/read", json=inputs)
    )["results"]
    assert 0.6 * len(deal_ids) < len(to_companies) <= len(deal_ids)


# -- events ------------------------------------------------------------------------------------


def _all_events(sandbox: Sandbox, **params: Any) -> list[dict[str, Any]]:
    events, query = [], {"limit": 1000, **params}
    while True:
        body = _ok(sandbox.http.get("/events/v3/events", params=query))
        events += body["results"]
        if "paging" not in body:
            return events
        query["after"] = body["paging"]["next"]["after"]


def test_events_are_ordered_paged_and_windows_do_not_overlap(generated: Sandbox) -> None:
    start, middle, end = (generated.now - timedelta(days=d) for d in (14, 7, 0))
    whole = _all_events(
        generated,
        objectType="contact",
        occurredAfter=start.isoformat(),
        occurredBefore=end.isoformat(),
    )
    first = _all_events(
        generated,
        objectType="contact",
        occurredAfter=start.isoformat(),
        occurredBefore=middle.isoformat(),
    )
    second = _all_events(
        generated,
        objectType="contact",
        occurredAfter=middle.isoformat(),
        occurredBefore=end.isoformat(),
    )
    assert len(whole) > 5000
    assert [e["id"] for e in whole] == [e["id"] for e in first + second]
    keys = [(e["occurredAt"], e["id"]) for e in whole]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert all(start.isoformat()[:19] <= e["occurredAt"][:19] < end.isoformat()[:19] for e in whole)
    sample = whole[0]
    assert sample["objectType"] == "CONTACT" and sample["objectId"].isdigit()
    assert set(sample) == {"objectType", "objectId", "eventType", "occurredAt", "id", "properties"}


def test_event_bounds_filters_and_sorting(sandbox: Sandbox) -> None:
    portal = sandbox.portal
    ann = portal.add_contact({"email": "ann@acme.com"})
    bob = portal.add_contact({"email": "bob@acme.com"})
    t0, t1 = sandbox.now - timedelta(hours=2), sandbox.now - timedelta(hours=1)
    ids = [
        portal.add_event("e_visited_page", ann, t0, {"hs_url": "https://x/pricing"}),
        portal.add_event("e_opened_email", bob, t0),
        portal.add_event("e_visited_page", bob, t1),
    ]

    def listed(**params: Any) -> list[str]:
        body = _ok(
            sandbox.http.get("/events/v3/events", params={"objectType": "contact", **params})
        )
        return [e["id"] for e in body["results"]]

    assert listed() == ids
    assert listed(occurredAfter=iso(to_ms(t0))) == ids
    assert listed(occurredAfter=str(to_ms(t0) + 1)) == ids[2:]
    assert listed(occurredBefore=t1.isoformat()) == ids[:2]
    assert listed(eventType="e_visited_page") == [ids[0], ids[2]]
    assert listed(objectId=bob) == ids[1:]
    assert listed(**{"objectProperty.email": "ann@acme.com"}) == ids[:1]
    assert listed(sort="-occurredAt") == ids[::-1]
    page = _ok(sandbox.http.get("/events/v3/events", params={"limit": 2, "sort": "-occurredAt"}))
    rest = _ok(
        sandbox.http.get(
            "/events/v3/events",
            params={"limit": 2, "sort": "-occurredAt", "after": page["paging"]["next"]["after"]},
        )
    )
    assert [e["id"] for e in page["results"] + rest["results"]] == ids[::-1]
    _error(sandbox.http.get("/events/v3/events", params={"limit": 1001}), 400, "VALIDATION_ERROR")
    _error(
        sandbox.http.get("/events/v3/events", params={"after": "garbage!"}), 400, "VALIDATION_ERROR"
    )
    _error(
        sandbox.http.get("/events/v3/events", params={"occurredAfter": "soon"}),
        400,
        "VALIDATION_ERROR",
    )


def test_define_a_custom_event_send_it_then_list_it(sandbox: Sandbox) -> None:
    """HubSpot sends only defined custom events, by the name the definition gets."""
    cid = sandbox.portal.add_contact({"email": "known@acme.com"})
    undefined = {"eventName": "pe1_demo_booked", "objectId": str(cid)}
    _error(sandbox.http.post("/events/v3/send", json=undefined), 400, "VALIDATION_ERROR")
    builtin = {"eventName": "e_visited_page", "objectId": str(cid)}
    _error(sandbox.http.post("/events/v3/send", json=builtin), 400, "VALIDATION_ERROR")
    definition = {"label": "Demo booked", "name": "demo_booked", "primaryObject": "CONTACT"}
    created = _ok(sandbox.http.post("/events/v3/event-definitions", json=definition), 201)
    assert created["fullyQualifiedName"] == "pe1_demo_booked"
    again = sandbox.http.post("/events/v3/event-definitions", json=definition)
    _error(again, 409, "CONFLICT")
    listed = _ok(sandbox.http.get("/events/v3/event-definitions"))["results"]
    assert [d["name"] for d in listed] == ["demo_booked"]
    sent = {
        "eventName": "pe1_demo_booked",
        "objectId": str(cid),
        "occurredAt": "2026-10-31T09:00:00Z",
        "properties": {"plan": "pro", "seats": 5},
    }
    assert _ok(sandbox.http.post("/events/v3/send", json=sent), 204) is None
    _ok(
        sandbox.http.post(
            "/events/v3/send", json={"eventName": "pe1_demo_booked", "email": "Fresh@Beta.io"}
        ),
        204,
    )
    events = _ok(sandbox.http.get("/events/v3/events", params={"eventType": "pe1_demo_booked"}))[
        "results"
    ]
    assert events[0]["objectId"] == str(cid)
    assert events[0]["occurredAt"] == "2026-10-31T09:00:00.000Z"
    assert events[0]["properties"] == {"plan": "pro", "seats": "5"}
    assert events[1]["occurredAt"] == iso(to_ms(sandbox.now))
    fresh = _ok(sandbox.http.get(f"{CONTACTS}/fresh@beta.io", params={"idProperty": "email"}))
    assert events[1]["objectId"] == fresh["id"]
    types = _ok(sandbox.http.get("/events/v3/events/event-types"))["eventTypes"]
    assert types == ["pe1_demo_booked"]
    for bad in (
        {"objectId": str(cid)},
        {"eventName": "x"},
        {"eventName": "x", "objectId": "9"},
        {"eventName": "x", "objectId": str(cid), "occurredAt": "later"},
    ):
        _error(sandbox.http.post("/events/v3/send", json=bad), 400, "VALIDATION_ERROR")


# -- auth, errors, limits and faults -----------------------------------------------------------


def test_auth_is_required(generated: Sandbox) -> None:
    url = generated.server.url + CONTACTS
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": generated.token}):
        body = _error(httpx.get(url, headers=headers), 401, "INVALID_AUTHENTICATION")
        assert body["message"].startswith("Authentication credentials not found.")


def test_unknown_routes_and_bad_json(sandbox: Sandbox) -> None:
    _error(sandbox.http.get("/crm/v3/nope"), 404, "OBJECT_NOT_FOUND")
    _error(sandbox.http.put(CONTACTS), 404, "OBJECT_NOT_FOUND")
    bad = sandbox.http.post(
        f"{CONTACTS}/search", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    _error(bad, 400, "VALIDATION_ERROR")
    _error(sandbox.http.get("/crm/v3/objects/widgets"), 400, "VALIDATION_ERROR")
    _error(sandbox.http.get(CONTACTS, params={"limit": "ten"}), 400, "VALIDATION_ERROR")


def test_request_log_records_method_path_status(sandbox: Sandbox) -> None:
    sandbox.http.get(f"{CONTACTS}?limit=5")
    sandbox.http.get(f"{CONTACTS}/77")
    httpx.get(sandbox.server.url + "/crm/v3/owners")
    assert sandbox.portal.request_log == [
        ("GET", CONTACTS, 200),
        ("GET", f"{CONTACTS}/77", 404),
        ("GET", "/crm/v3/owners", 401),
    ]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_ten_second_window_with_headers_and_retry_after(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(rate_limit_per_10s=3)
    clock = FakeClock()
    sandbox.server.rate_limiter.clock = clock
    remaining = []
    for _ in range(3):
        response = sandbox.http.get(CONTACTS)
        assert response.status_code == 200
        assert response.headers["X-HubSpot-RateLimit-Max"] == "3"
        assert response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
        assert int(response.headers["X-HubSpot-RateLimit-Daily-Remaining"]) > 0
        remaining.append(response.headers["X-HubSpot-RateLimit-Remaining"])
        clock.now += 2
    assert remaining == ["2", "1", "0"]
    refused = sandbox.http.get(CONTACTS)
    body = _error(refused, 429, "RATE_LIMITS")
    assert body["policyName"] == "TEN_SECONDLY_ROLLING" and body["errorType"] == "RATE_LIMIT"
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert int(refused.headers["Retry-After"]) == 4  # the oldest request ages out at +10 s
    for _ in range(5):  # refused requests do not extend the window
        assert sandbox.http.get(CONTACTS).status_code == 429
    clock.now += 4
    assert sandbox.http.get(CONTACTS).status_code == 200
    sandbox.server.config.rate_limit_per_10s = None
    assert "X-HubSpot-RateLimit-Max" not in sandbox.http.get(CONTACTS).headers


def test_search_has_its_own_per_second_limit(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(search_rate_per_s=2)
    clock = FakeClock()
    sandbox.server.rate_limiter.clock = clock
    assert [_search(sandbox, {}).status_code for _ in range(3)] == [200, 200, 429]
    refused = _search(sandbox, {})
    assert refused.json()["policyName"] == "SECONDLY" and refused.headers["Retry-After"] == "1"
    assert sandbox.http.get(CONTACTS).status_code == 200
    clock.now += 1
    assert _search(sandbox, {}).status_code == 200


def test_429_storm_every_nth_request(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(storm_429_every=3)
    statuses = [sandbox.http.get(CONTACTS) for _ in range(9)]
    assert [r.status_code for r in statuses] == [200, 200, 429] * 3
    assert statuses[2].headers["Retry-After"] == "1"
    sandbox.server.config.storm_429_every = None
    assert all(sandbox.http.get(CONTACTS).status_code == 200 for _ in range(4))


def _fault_statuses(make_sandbox: MakeSandbox, seed: int) -> list[int]:
    sandbox = make_sandbox(error_rate_5xx=0.3, fault_seed=seed)
    return [sandbox.http.get(CONTACTS).status_code for _ in range(300)]


def test_5xx_rate_is_roughly_as_configured_and_deterministic(make_sandbox: MakeSandbox) -> None:
    statuses = _fault_statuses(make_sandbox, seed=11)
    assert set(statuses) == {200, 502, 503}
    assert 0.2 < sum(s >= 500 for s in statuses) / len(statuses) < 0.4
    assert _fault_statuses(make_sandbox, seed=11) == statuses
    assert _fault_statuses(make_sandbox, seed=12) != statuses


def test_5xx_faults_do_not_touch_state(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(error_rate_5xx=1.0)
    cid = sandbox.portal.add_contact({"email": "s@acme.com"})
    response = _batch(sandbox, "update", [{"id": str(cid), "properties": {"city": "Oslo"}}])
    body = response.json()
    assert response.status_code in (502, 503) and body["status"] == "error"
    assert "city" not in sandbox.portal.get_object("contacts", cid)["properties"]


def test_injected_batch_failures_can_be_switched_at_runtime(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(batch_failure_rate=0.5, fault_seed=3)
    ids = [sandbox.portal.add_contact({"email": f"b{i}@acme.com"}) for i in range(100)]
    inputs = [{"id": str(i), "properties": {"city": "Oslo"}} for i in ids]
    body = _ok(_batch(sandbox, "update", inputs), 207)
    failed = {e["context"]["ids"][0] for e in body["errors"]}
    assert 30 < len(failed) < 70 and len(failed) + len(body["results"]) == 100
    assert {e["message"] for e in body["errors"]} == {"injected failure"}
    unchanged = [
        i for i in ids if "city" not in sandbox.portal.get_object("contacts", i)["properties"]
    ]
    assert {str(i) for i in unchanged} == failed
    upserts = [
        {"id": f"b{i}@acme.com", "idProperty": "email", "properties": {"city": "Rome"}}
        for i in range(20)
    ]
    assert _batch(sandbox, "upsert", upserts).status_code == 207
    sandbox.server.config.batch_failure_rate = 0.0
    assert _batch(sandbox, "update", inputs).status_code == 200


def test_latency_is_added(make_sandbox: MakeSandbox) -> None:
    sandbox = make_sandbox(latency_ms=150)
    started = time.monotonic()
    sandbox.http.get(CONTACTS)
    assert time.monotonic() - started >= 0.15


def test_concurrent_writers_are_serialised(sandbox: Sandbox) -> None:
    cid = sandbox.portal.add_contact({"email": "shared@acme.com"})

    def write(worker: int) -> None:
        with httpx.Client(
            base_url=sandbox.server.url, headers={"Authorization": f"Bearer {sandbox.token}"}
        ) as http:
            for n in range(10):
                http.post(
                    f"{CONTACTS}/batch/create",
                    json={"inputs": [{"properties": {"email": f"w{worker}-{n}@acme.com"}}]},
                )
                http.post(
                    f"{CONTACTS}/batch/update",
                    json={"inputs": [{"id": str(cid), "properties": {"city": f"c{worker}"}}]},
                )

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    listed = _ok(sandbox.http.get(CONTACTS, params={"limit": 100}))
    ids = [int(r["id"]) for r in listed["results"]]
    assert len(ids) == len(set(ids)) == 81
    assert collections.Counter(s for _, _, s in sandbox.portal.request_log)[200] >= 80


# -- generation --------------------------------------------------------------------------------


def _dump(portal: Portal) -> list[Any]:
    dumps: list[Any] = []
    for kind in ("contacts", "companies", "deals"):
        after = None
        while True:
            _, body = portal.list_objects(kind, limit=100, after=after, properties=["email"])
            dumps += [portal.get_object(kind, int(r["id"])) for r in body["results"]]
            after = body.get("paging", {}).get("next", {}).get("after")
            if after is None:
                break
    _, events = portal.list_events(limit=1000)
    _, owners = portal.list_owners()
    return [dumps, events, owners]


def test_generation_is_deterministic(generated: Sandbox) -> None:
    first = Portal.generate(seed=5, contacts=400, now=generated.now)
    assert _dump(first) == _dump(Portal.generate(seed=5, contacts=400, now=generated.now))
    assert _dump(first) != _dump(Portal.generate(seed=6, contacts=400, now=generated.now))


def test_generation_is_fast(generated: Sandbox) -> None:
    started = time.monotonic()
    Portal.generate(seed=1, contacts=5000, now=generated.now)
    assert time.monotonic() - started < 3


def _count(portal: Portal, kind: str) -> int:
    _, body = portal.search(kind, {"limit": 0})
    return body["total"]


def test_generated_portal_is_realistic(generated: Sandbox) -> None:
    portal, now_ms = generated.portal, to_ms(generated.now)
    contacts = [portal.get_object("contacts", i) for i in range(1, 5001)]
    props = [c["properties"] for c in contacts]

    def share(test: Callable[[dict[str, str]], bool]) -> float:
        return sum(1 for p in props if test(p)) / len(props)

    def domain(p: dict[str, str]) -> str:
        return p["email"].split("@")[1]

    free = {"gmail.com", "yahoo.com", "hotmail.com", "outlook.com"}
    competitors = {
        "hubspot.com",
        "marketo.com",
        "salesforce.com",
        "pardot.com",
        "activecampaign.com",
    }
    assert 0.12 < share(lambda p: domain(p) in free) < 0.18
    assert 0.02 < share(lambda p: domain(p).endswith(".edu") or "@student." in p["email"]) < 0.05
    assert 0.004 < share(lambda p: domain(p) in competitors) < 0.02
    assert len({domain(p) for p in props}) > 700
    assert 0.85 < share(lambda p: "lifecyclestage" in p) < 0.99
    assert 0.05 < share(lambda p: "bant_need" in p) < 0.2
    accepted = [p for p in props if p.get("hs_lead_status") in ("IN_PROGRESS", "CONNECTED")]
    assert accepted and all("hubspot_owner_id" in p for p in accepted)
    assert len({p.get("jobtitle") for p in props}) > 15
    assert len({p.get("country") for p in props}) >= 10
    for contact in contacts:
        created, updated = parse_ms(contact["createdAt"]), parse_ms(contact["updatedAt"])
        assert now_ms - 121 * 86_400_000 < created <= updated <= now_ms
    assert len(portal.list_owners()[1]["results"]) == 8
    assert _count(portal, "companies") == 1000
    deals = [portal.get_object("deals", 2_000_001 + i) for i in range(_count(portal, "deals"))]
    assert 0.04 < len(deals) / 5000 < 0.09
    won = sum(d["properties"]["dealstage"] == "closedwon" for d in deals)
    assert 0.25 < won / len(deals) < 0.45
    assert share(lambda p: p.get("lifecyclestage") == "customer") * 5000 <= won


def test_generated_events_are_realistic(generated: Sandbox) -> None:
    events = _all_events(generated)
    oldest = to_ms(generated.now - timedelta(days=42))
    assert all(oldest <= parse_ms(e["occurredAt"]) < to_ms(generated.now) for e in events)
    assert len({e["id"] for e in events}) == len(events)
    per_contact = collections.Counter(e["objectId"] for e in events)
    counts = [per_contact.get(str(i), 0) for i in range(1, 5001)]
    assert 8 <= statistics.mean(counts) <= 15
    assert max(counts) > 5 * statistics.median(counts)  # heavy tail
    kinds = collections.Counter(e["eventType"] for e in events)
    assert set(kinds) == {
        "e_visited_page",
        "e_submitted_form",
        "e_opened_email",
        "e_clicked_email",
        "e_unsubscribed",
        "e_hard_bounced",
    }
    hand_raise = {"Demo request", "Pricing request", "Contact sales", "Quote request"}
    raisers = {
        e["objectId"]
        for e in events
        if e["eventType"] == "e_submitted_form" and e["properties"]["hs_form_title"] in hand_raise
    }
    assert 0.02 < len(raisers) / 5000 < 0.06
    unsubscribed = {e["objectId"] for e in events if e["eventType"] == "e_unsubscribed"}
    assert 0.01 < len(unsubscribed) / 5000 < 0.03
    pages = {e["properties"]["hs_url"] for e in events if e["eventType"] == "e_visited_page"}
    assert "https://www.example.com/pricing" in pages


def test_helpers_validate_and_mirror_fields(sandbox: Sandbox) -> None:
    portal, yesterday = sandbox.portal, sandbox.now - timedelta(days=1)
    cid = portal.add_contact({"email": "h@acme.com", "bant_need": "yes"}, created_at=yesterday)
    shape = portal.get_object("contact", cid)
    assert shape["properties"]["hs_object_id"] == str(cid)
    assert shape["updatedAt"] == shape["createdAt"] == iso(to_ms(yesterday))
    portal.update_object("contacts", cid, {"city": "Oslo"})
    assert portal.get_object("contacts", cid)["updatedAt"] == iso(to_ms(sandbox.now))
    deal = portal.add_deal({"dealname": "D", "closedate": sandbox.now, "amount": 1200.5})
    assert portal.get_object("deals", deal)["properties"]["closedate"] == "2026-11-01T10:00:00.000Z"
    hour_ago = sandbox.now - timedelta(hours=1)
    shape = portal.get_object(
        "contacts", portal.add_contact({"email": "r@a.io"}, updated_at=hour_ago)
    )
    assert shape["createdAt"] == shape["updatedAt"] == iso(to_ms(hour_ago))
    with pytest.raises(Exception, match="does not exist"):
        portal.add_contact({"favourite_colour": "blue"})
    with pytest.raises(Exception, match="read-only"):
        portal.update_object("contacts", cid, {"hs_lastmodifieddate": sandbox.now})
    with pytest.raises(Exception, match="already exists"):
        portal.add_contact({"email": "H@acme.com"})


def test_server_lifecycle() -> None:
    SandboxServer(Portal()).stop()  # never started: must not hang
    with SandboxServer(Portal(), SandboxConfig(token="t")) as running:
        owners = httpx.get(f"{running.url}/crm/v3/owners", headers={"Authorization": "Bearer t"})
        assert owners.json() == {"results": []}
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{running.url}/crm/v3/owners")


def test_module_entry_point_serves() -> None:
    command = [
        sys.executable,
        "-m",
        "leadflow.sources.hubspot.sandbox",
        "--port",
        "0",
        "--contacts",
        "50",
        "--token",
        "cli-token",
        "--rate-limit",
        "50",
    ]
    env = {**os.environ, "PYTHONPATH": str(Path(leadflow.__file__).parents[1])}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip().rsplit(" ", 1)[-1]
        response = httpx.get(f"{url}{CONTACTS}", headers={"Authorization": "Bearer cli-token"})
        assert response.status_code == 200
        assert response.headers["X-HubSpot-RateLimit-Max"] == "50"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_generated_sequence_replies_are_engagements_every_tier_reads(generated: Sandbox) -> None:
    """The reply milestone: the owner's sequence email, then the contact's INCOMING_EMAIL
    answer, both associated with the contact (no Enterprise-only event)."""
    emails = generated.portal._objects["emails"].values()
    subject = "Quick question about your lead routing"
    sent = [e for e in emails if e.properties.get("hs_email_subject") == subject]
    replies = [e for e in emails if e.properties.get("hs_email_subject") == f"Re: {subject}"]
    assert len(sent) == len(replies) > 20
    assert all(e.properties["hs_email_direction"] == "EMAIL" for e in sent)
    assert all(e.properties["hubspot_owner_id"] for e in sent)
    assert all(e.properties["hs_email_direction"] == "INCOMING_EMAIL" for e in replies)
    first = _ok(generated.http.get(f"/crm/v4/objects/emails/{replies[0].id}/associations/contacts"))
    assert [link["associationTypes"][0]["typeId"] for link in first["results"]] == [198]


def test_email_event_offsets_survive_new_events(make_sandbox: Callable[..., Sandbox]) -> None:
    sandbox = make_sandbox()
    base = to_ms(sandbox.now) - 10_000
    for n in range(5):
        body = {"recipient": f"r{n}@x.io", "type": "DELIVERED", "emailCampaignId": 7}
        _ok(sandbox.http.post("/_sandbox/email-events", json={**body, "created": base + n}), 201)
    first = _ok(sandbox.http.get("/email/public/v1/events", params={"limit": 2}))
    assert first["hasMore"] and [e["recipient"] for e in first["events"]] == ["r4@x.io", "r3@x.io"]
    newer = {"recipient": "late@x.io", "type": "SENT", "emailCampaignId": 7}
    _ok(sandbox.http.post("/_sandbox/email-events", json=newer), 201)
    rest = _ok(
        sandbox.http.get("/email/public/v1/events", params={"limit": 10, "offset": first["offset"]})
    )
    assert [e["recipient"] for e in rest["events"]] == ["r2@x.io", "r1@x.io", "r0@x.io"]
    assert rest["hasMore"] is False
    bad = sandbox.http.get("/email/public/v1/events", params={"offset": "garbage"})
    assert bad.status_code == 400 and bad.json()["category"] == "VALIDATION_ERROR"
    wrong = sandbox.http.post("/_sandbox/email-events", json={"recipient": "a@b.c", "type": "X"})
    assert wrong.status_code == 400


def test_submissions_keep_what_was_typed_even_after_the_contact_changes(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = make_sandbox()
    sandbox.portal.define_form("f-1", "Trial", "https://www.example.com/trial")
    path = "/submissions/v3/integration/submit/1/f-1"
    fields = [
        {"name": "email", "value": " Ada@Lovelace.dev "},
        {"name": "firstname", "value": "Ada"},
    ]
    assert httpx.post(sandbox.server.url + path, json={"fields": fields}).status_code == 200
    contact = _ok(sandbox.http.get("/crm/v3/objects/contacts/ada@lovelace.dev?idProperty=email"))
    patch = {"properties": {"email": "ada@new.dev"}}
    _ok(sandbox.http.patch(f"/crm/v3/objects/contacts/{contact['id']}", json=patch))
    (submission,) = _ok(sandbox.http.get("/form-integrations/v1/submissions/forms/f-1"))["results"]
    assert submission["values"] == fields
    assert submission["pageUrl"] == "https://www.example.com/trial"
    assert submission["submittedAt"] == to_ms(sandbox.now)
