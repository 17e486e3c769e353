"""Contract: HubSpot's official Python SDK (hubspot-api-client 12) works against the sandbox.

The SDK builds a fresh ApiClient/Configuration on every `client.crm...._api` access, so setting
`api_client.configuration.host` on one instance would not stick. `Client.create(host=...)` is
the supported way: the discovery layer copies every config key onto each new Configuration.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import httpx
import pytest
from hubspot import Client
from hubspot.crm.associations.v4 import (
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicFetchAssociationsBatchRequest,
)
from hubspot.crm.contacts import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchReadInputSimplePublicObjectId,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectId,
)
from hubspot.crm.objects.calls import ApiException as CallsApiException
from hubspot.crm.objects.calls import (
    AssociationSpec,
    PublicAssociationsForObject,
    PublicObjectId,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.properties import ApiException as PropertyApiException
from hubspot.crm.properties import OptionInput, PropertyCreate
from hubspot.events import ApiException as EventsApiException
from hubspot.events.send import ApiException as SendApiException
from hubspot.events.send import BehavioralEventHttpCompletionRequest
from urllib3.util.retry import Retry

from leadflow.sources.hubspot.sandbox import Portal
from leadflow.sources.hubspot.sandbox.values import to_ms

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import Sandbox


def sdk(sandbox: Sandbox, **config: object) -> Client:
    return Client.create(access_token=sandbox.token, host=sandbox.server.url, **config)


@pytest.fixture
def seeded(make_sandbox: Callable[..., Sandbox], now: datetime) -> Sandbox:
    """A small generated portal per test, since these tests write."""
    return make_sandbox(Portal.generate(seed=3, contacts=300, now=now))


def test_contacts_get_page_follows_cursors(generated: Sandbox) -> None:
    api = sdk(generated).crm.contacts.basic_api
    ids, after = [], None
    while True:
        page = api.get_page(limit=100, after=after, properties=["email", "lifecyclestage"])
        ids += [int(contact.id) for contact in page.results]
        if page.paging is None:
            break
        after = page.paging.next.after
    assert ids == list(range(1, 5001))
    first = api.get_by_id("1", properties=["email", "jobtitle"])
    assert first.properties["email"] and "jobtitle" in first.properties
    assert first.created_at.tzinfo is not None
    assert len(sdk(generated).crm.contacts.get_all(limit=250)) == 250


def test_search_with_filters_and_sort(generated: Sandbox) -> None:
    since = to_ms(generated.now - timedelta(days=30))
    request = PublicObjectSearchRequest(
        filter_groups=[
            FilterGroup(
                filters=[
                    Filter(property_name="hs_lastmodifieddate", operator="GTE", value=str(since)),
                    Filter(
                        property_name="lifecyclestage",
                        operator="IN",
                        values=["lead", "marketingqualifiedlead"],
                    ),
                ]
            )
        ],
        sorts=[{"propertyName": "hs_lastmodifieddate", "direction": "DESCENDING"}],
        properties=["lifecyclestage", "hs_lastmodifieddate"],
        limit=50,
    )
    result = sdk(generated).crm.contacts.search_api.do_search(request)
    assert result.total > 50 and len(result.results) == 50
    assert result.paging.next.after == "50"
    stamps = [c.properties["hs_lastmodifieddate"] for c in result.results]
    assert stamps == sorted(stamps, reverse=True)
    assert {c.properties["lifecyclestage"] for c in result.results} <= {
        "lead",
        "marketingqualifiedlead",
    }
    with pytest.raises(ApiException) as capped:
        sdk(generated).crm.contacts.search_api.do_search(
            PublicObjectSearchRequest(limit=10, after="10000")
        )
    assert capped.value.status == 400 and "10000" in capped.value.body


def test_batch_read_update_and_upsert(seeded: Sandbox) -> None:
    batch = sdk(seeded).crm.contacts.batch_api
    read = batch.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id="1"), SimplePublicObjectId(id="2")],
            properties=["email"],
            properties_with_history=[],
        )
    )
    assert sorted(c.id for c in read.results) == ["1", "2"]
    partial = batch.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id="1"), SimplePublicObjectId(id="9999")],
            properties=["email"],
            properties_with_history=[],
        )
    )
    assert partial.num_errors == 1
    assert partial.errors[0].category == "OBJECT_NOT_FOUND"
    assert partial.errors[0].context == {"ids": ["9999"]}
    updated = batch.update(
        BatchInputSimplePublicObjectBatchInput(
            inputs=[
                SimplePublicObjectBatchInput(
                    id="1", properties={"bant_budget": "yes", "city": "Oslo"}
                )
            ]
        )
    )
    assert updated.results[0].properties["city"] == "Oslo"
    assert seeded.portal.get_object("contacts", 1)["properties"]["bant_budget"] == "yes"
    upserted = batch.upsert(
        BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[
                SimplePublicObjectBatchInputUpsert(
                    id="sdk@new.io", id_property="email", properties={"firstname": "Sdk"}
                )
            ]
        )
    )
    assert upserted.results[0].new is True


def test_reads_return_history_and_associations_when_asked(seeded: Sandbox) -> None:
    """`propertiesWithHistory` and `associations` on list, read and batch read, as the SDK
    sends them: each write of a property is in its history, newest first, and a page with
    history holds at most 50 objects."""
    portal, contacts = seeded.portal, sdk(seeded).crm.contacts
    company = portal.add_company({"name": "Acme"})
    contact = portal.add_contact({"email": "h@acme.com", "lifecyclestage": "lead"}, seeded.now)
    portal.associate("contacts", contact, "companies", company, 1)
    for days, stage in ((3, "marketingqualifiedlead"), (9, "salesqualifiedlead")):
        when = seeded.now + timedelta(days=days)
        portal.update_object("contacts", contact, {"lifecyclestage": stage}, updated_at=when)

    read = contacts.basic_api.get_by_id(
        str(contact),
        properties=["email"],
        properties_with_history=["lifecyclestage"],
        associations=["companies"],
    )
    values = [(h.value, h.timestamp) for h in read.properties_with_history["lifecyclestage"]]
    assert values == [
        ("salesqualifiedlead", seeded.now + timedelta(days=9)),
        ("marketingqualifiedlead", seeded.now + timedelta(days=3)),
        ("lead", seeded.now),
    ]
    links = read.associations["companies"].results
    assert {(a.id, a.type) for a in links} == {
        (str(company), "contact_to_company"),
        (str(company), "contact_to_company_unlabeled"),
    }

    page = contacts.basic_api.get_page(limit=100, properties_with_history=["lifecyclestage"])
    assert len(page.results) == 50 and page.paging.next.after
    listed = contacts.basic_api.get_page(limit=100, associations=["companies"])
    assert all(c.properties_with_history is None for c in listed.results)

    batch = contacts.batch_api.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=str(contact))],
            properties=["email"],
            properties_with_history=["lifecyclestage"],
        )
    )
    (history,) = [r.properties_with_history["lifecyclestage"] for r in batch.results]
    assert [h.value for h in history][0] == "salesqualifiedlead"


def test_what_generic_extractors_read_first(seeded: Sandbox) -> None:
    """Custom object schemas, the deal and ticket pipelines, and the property catalog of
    every standard object type: the calls open-source extractors make before any data."""
    client = sdk(seeded)
    assert client.crm.schemas.core_api.get_all().results == []
    (deals,) = client.crm.pipelines.pipelines_api.get_all(object_type="deals").results
    assert deals.id == "default" and deals.stages[-1].metadata["isClosed"] == "true"
    stages = {s.id for s in deals.stages}
    dealstage = client.crm.properties.core_api.get_by_name("deals", "dealstage")
    assert stages == {o.value for o in dealstage.options}
    (tickets,) = client.crm.pipelines.pipelines_api.get_all(object_type="tickets").results
    assert [s.metadata["ticketState"] for s in tickets.stages] == ["OPEN"] * 3 + ["CLOSED"]
    for object_type in (
        *("tickets", "products", "quotes", "line_items"),
        *("calls", "meetings", "emails", "notes", "tasks"),
    ):
        names = {p.name for p in client.crm.properties.core_api.get_all(object_type).results}
        assert {"hs_object_id", "hs_lastmodifieddate"} <= names, object_type
    for engagement in ("calls", "meetings", "emails", "notes", "tasks"):
        names = {p.name for p in client.crm.properties.core_api.get_all(engagement).results}
        assert {"hs_timestamp", "hubspot_owner_id"} <= names, engagement


def test_engagements_are_objects_associated_with_contacts(seeded: Sandbox) -> None:
    """A call logged against a contact (association type 194), read with its contacts; an
    engagement without hs_timestamp is refused as HubSpot refuses it."""
    calls = sdk(seeded).crm.objects.calls.basic_api
    to_contact = PublicAssociationsForObject(
        to=PublicObjectId(id="1"),
        types=[AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=194)],
    )
    created = calls.create(
        SimplePublicObjectInputForCreate(
            properties={
                "hs_timestamp": "2026-10-30T09:00:00.000Z",
                "hs_call_direction": "OUTBOUND",
                "hs_call_status": "COMPLETED",
                "hubspot_owner_id": "101",
            },
            associations=[to_contact],
        )
    )
    call = calls.get_by_id(
        created.id, properties=["hs_call_direction", "hs_timestamp"], associations=["contacts"]
    )
    assert call.properties["hs_call_direction"] == "OUTBOUND"
    assert [(a.id, a.type) for a in call.associations["contacts"].results] == [
        ("1", "call_to_contact")
    ]
    with pytest.raises(CallsApiException) as refused:
        calls.create(SimplePublicObjectInputForCreate(properties={"hs_call_title": "x"}))
    assert refused.value.status == 400 and "hs_timestamp" in refused.value.body


def test_owners(generated: Sandbox) -> None:
    api = sdk(generated).crm.owners.owners_api
    first = api.get_page(limit=5)
    rest = api.get_page(limit=5, after=first.paging.next.after)
    owners = first.results + rest.results
    assert len(owners) == 8 and rest.paging is None
    assert owners[0].type == "PERSON" and owners[0].teams[0].name
    assert api.get_by_id(int(owners[0].id)).email == owners[0].email


def test_properties_get_all_and_create(seeded: Sandbox) -> None:
    api = sdk(seeded).crm.properties.core_api
    props = {p.name: p for p in api.get_all("contacts").results}
    assert [o.value for o in props["lifecyclestage"].options][:2] == ["subscriber", "lead"]
    assert props["hs_object_id"].modification_metadata.read_only_value is True
    definition = PropertyCreate(
        name="fit_tier",
        label="Fit tier",
        type="enumeration",
        field_type="select",
        group_name="contactinformation",
        options=[
            OptionInput(label=t.upper(), value=t, display_order=i, hidden=False)
            for i, t in enumerate(("a", "b", "c"))
        ],
    )
    created = api.create("contacts", definition)
    assert created.name == "fit_tier" and [o.value for o in created.options] == ["a", "b", "c"]
    with pytest.raises(PropertyApiException) as duplicate:
        api.create("contacts", definition)
    assert duplicate.value.status == 409
    assert api.get_by_name("contacts", "fit_tier").hubspot_defined is False

    contacts = sdk(seeded).crm.contacts.basic_api
    some = contacts.get_page(limit=1).results[0].id
    contacts.update(some, {"properties": {"fit_tier": "a"}})
    api.archive("contacts", "fit_tier")  # values go with it; no contact counts as modified
    with pytest.raises(PropertyApiException) as gone:
        api.get_by_name("contacts", "fit_tier")
    assert gone.value.status == 404
    assert "fit_tier" not in (contacts.get_by_id(some, properties=["fit_tier"]).properties or {})
    with pytest.raises(PropertyApiException) as defined:
        api.archive("contacts", "jobtitle")
    assert defined.value.status == 400


def test_associations_v4(seeded: Sandbox) -> None:
    client = sdk(seeded)
    deal_ids = [d.id for d in client.crm.deals.basic_api.get_page(limit=100).results]
    assert deal_ids
    rows = client.crm.associations.v4.batch_api.get_page(
        "deals",
        "contacts",
        BatchInputPublicFetchAssociationsBatchRequest(
            inputs=[PublicFetchAssociationsBatchRequest(id=i) for i in deal_ids]
        ),
    )
    assert sorted(r._from.id for r in rows.results) == sorted(deal_ids)
    contact_id = rows.results[0].to[0].to_object_id
    assert rows.results[0].to[0].association_types[0].type_id == 3
    back = client.crm.associations.v4.basic_api.get_page("contacts", contact_id, "deals")
    assert rows.results[0]._from.id in {row.to_object_id for row in back.results}
    made = client.crm.associations.v4.basic_api.create_default(
        "contacts", "1", "deals", deal_ids[0]
    )
    assert {r.association_spec.association_type_id for r in made.results} == {3, 4}


def test_events_read_and_send(seeded: Sandbox) -> None:
    client = sdk(seeded)
    since = seeded.now - timedelta(days=7)
    events, after = [], None
    while True:
        page = client.events.events_api.get_page(
            object_type="contact",
            occurred_after=since,
            occurred_before=seeded.now,
            limit=500,
            after=after,
        )
        events += page.results
        if page.paging is None:
            break
        after = page.paging.next.after
    assert events and all(since <= e.occurred_at < seeded.now for e in events)
    assert [e.occurred_at for e in events] == sorted(e.occurred_at for e in events)
    # The SDK has no event-definitions client: define the custom event over HTTP first.
    defined = httpx.post(
        f"{seeded.server.url}/events/v3/event-definitions",
        json={"label": "Trial started", "name": "trial_started"},
        headers={"Authorization": f"Bearer {seeded.token}"},
    )
    assert defined.json()["fullyQualifiedName"] == "pe1_trial_started"
    client.events.send.basic_api.send(
        BehavioralEventHttpCompletionRequest(
            event_name="pe1_trial_started",
            object_id="1",
            occurred_at=seeded.now,
            properties={"plan": "pro"},
        )
    )
    sent = client.events.events_api.get_page(
        object_type="contact", object_id=1, event_type="pe1_trial_started"
    )
    assert [e.properties for e in sent.results] == [{"plan": "pro"}]


@pytest.mark.parametrize("tier", ["starter", "professional"])
def test_below_enterprise_events_v3_is_refused_and_the_crm_answers(
    make_sandbox: Callable[..., Sandbox], now: datetime, tier: str
) -> None:
    """HubSpot's events v3 is Enterprise-only: a Starter or Professional portal's token gets
    a 403 for reading and sending events, while the CRM APIs answer as on every tier."""
    sandbox = make_sandbox(Portal.generate(seed=3, contacts=20, now=now), tier=tier)
    client = sdk(sandbox)
    with pytest.raises(EventsApiException) as refused:
        client.events.events_api.get_page(object_type="contact", limit=1)
    assert refused.value.status == 403
    body = json.loads(refused.value.body)
    assert body["status"] == "error" and body["category"] == "MISSING_SCOPES"
    assert "Enterprise" in body["message"] and body["correlationId"]
    with pytest.raises(SendApiException) as not_sent:
        client.events.send.basic_api.send(
            BehavioralEventHttpCompletionRequest(event_name="pe1_x", object_id="1")
        )
    assert not_sent.value.status == 403
    assert len(client.crm.contacts.basic_api.get_page(limit=5).results) == 5


def test_sdk_errors_and_retries(make_sandbox: Callable[..., Sandbox], now: datetime) -> None:
    sandbox = make_sandbox(Portal.generate(seed=3, contacts=20, now=now), storm_429_every=2)
    wrong = Client.create(access_token="nope", host=sandbox.server.url)
    with pytest.raises(ApiException) as denied:
        wrong.crm.contacts.basic_api.get_page()
    assert denied.value.status == 401
    retrying = sdk(
        sandbox,
        retry=Retry(total=3, status_forcelist=(429,), backoff_factor=0, allowed_methods=None),
    )
    pages = [retrying.crm.contacts.basic_api.get_page(limit=5) for _ in range(2)]
    assert all(len(page.results) == 5 for page in pages)
    statuses = [status for _, _, status in sandbox.portal.request_log]
    assert statuses.count(429) >= 1 and statuses[-1] == 200
