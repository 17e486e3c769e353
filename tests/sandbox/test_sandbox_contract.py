"""Contract: HubSpot's official Python SDK (hubspot-api-client 12) works against the sandbox.

The SDK builds a fresh ApiClient/Configuration on every `client.crm...._api` access, so setting
`api_client.configuration.host` on one instance would not stick. `Client.create(host=...)` is
the supported way: the discovery layer copies every config key onto each new Configuration.
"""

from __future__ import annotations

import collections
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

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
    SimplePublicObjectInput,
)
from hubspot.crm.lists import ApiException as ListsApiException
from hubspot.crm.lists import ListCreateRequest, MembershipChangeRequest
from hubspot.crm.objects.calls import ApiException as CallsApiException
from hubspot.crm.objects.calls import (
    AssociationSpec,
    PublicAssociationsForObject,
    PublicObjectId,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.objects.notes import AssociationSpec as NotesAssociationSpec
from hubspot.crm.objects.notes import (
    BatchInputSimplePublicObjectBatchInputForCreate as NotesBatchCreate,
)
from hubspot.crm.objects.notes import PublicAssociationsForObject as NotesAssociations
from hubspot.crm.objects.notes import PublicObjectId as NotesObjectId
from hubspot.crm.objects.notes import SimplePublicObjectBatchInputForCreate as NotesInput
from hubspot.crm.objects.tasks import AssociationSpec as TasksAssociationSpec
from hubspot.crm.objects.tasks import PublicAssociationsForObject as TasksAssociations
from hubspot.crm.objects.tasks import PublicObjectId as TasksObjectId
from hubspot.crm.objects.tasks import SimplePublicObjectInputForCreate as TasksInput
from hubspot.crm.properties import ApiException as PropertyApiException
from hubspot.crm.properties import OptionInput, PropertyCreate
from hubspot.events import ApiException as EventsApiException
from hubspot.events.send import ApiException as SendApiException
from hubspot.events.send import BehavioralEventHttpCompletionRequest
from urllib3.util.retry import Retry

from leadflow.sources.hubspot.sandbox import Portal
from leadflow.sources.hubspot.sandbox.properties import LIFECYCLE_STAGES
from leadflow.sources.hubspot.sandbox.values import iso, parse_ms, to_ms

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


# -- forms, email analytics and stage dates (every tier) ----------------------------------------


def call(sandbox: Sandbox, method: str, path: str, *, auth: bool = True, **options: object) -> Any:
    """The SDK's generic `api_request` (a `requests.Response`) against the sandbox."""
    client = sdk(sandbox) if auth else Client.create(host=sandbox.server.url)
    return client.api_request(
        {"method": method, "path": path, "base_url": sandbox.server.url, **options}
    )


def _submissions(sandbox: Sandbox, form_id: str, limit: int) -> list[dict[str, Any]]:
    found, qs = [], {"limit": limit}
    while True:
        response = call(sandbox, "GET", f"/form-integrations/v1/submissions/forms/{form_id}", qs=qs)
        assert response.status_code == 200, response.text
        body = response.json()
        found += body["results"]
        if "paging" not in body:
            return found
        assert body["paging"]["next"]["link"].startswith(sandbox.server.url)
        qs = {"limit": limit, "after": body["paging"]["next"]["after"]}


def test_forms_and_their_submissions_newest_first(seeded: Sandbox) -> None:
    forms = sdk(seeded).marketing.forms.forms_api.get_page(limit=5)
    rest = sdk(seeded).marketing.forms.forms_api.get_page(after=forms.paging.next.after)
    listed = forms.results + rest.results
    assert rest.paging is None and len(listed) == 7
    demo = next(f for f in listed if f.name == "Demo request")
    assert demo.form_type == "hubspot" and demo.archived is False
    fields = [field.name for group in demo.field_groups for field in group.fields]
    assert fields[:3] == ["email", "firstname", "lastname"]
    assert demo.field_groups[0].fields[0].required is True
    # The e_submitted_form events carry these forms' ids: one store, two views.
    events = [e for e in seeded.portal._events if e.event_type == "e_submitted_form"]
    by_form = collections.Counter(e.properties["hs_form_id"] for e in events)
    assert set(by_form) <= {f.id for f in listed}
    busiest = max(by_form, key=by_form.__getitem__)
    submissions = _submissions(seeded, busiest, limit=3)
    assert len(submissions) == by_form[busiest] > 3
    assert len({s["conversionId"] for s in submissions}) == len(submissions)
    times = [s["submittedAt"] for s in submissions]
    assert times == sorted(times, reverse=True) and all(isinstance(t, int) for t in times)
    emails = {c.properties["email"] for c in seeded.portal._objects["contacts"].values()}
    for submission in submissions:
        values = {v["name"]: v["value"] for v in submission["values"]}
        assert values["email"] in emails and submission["pageUrl"].startswith("https://")
    assert len(_submissions(seeded, busiest, limit=50)) == len(submissions)
    too_many = call(
        seeded, "GET", f"/form-integrations/v1/submissions/forms/{busiest}", qs={"limit": 51}
    )
    assert too_many.status_code == 400 and too_many.json()["category"] == "VALIDATION_ERROR"
    unknown = call(seeded, "GET", "/form-integrations/v1/submissions/forms/nope")
    assert unknown.status_code == 404 and unknown.json()["status"] == "error"


def _submit(sandbox: Sandbox, form_id: str, body: dict[str, Any], portal_id: int = 1) -> Any:
    """The public endpoint needs no token: the SDK client here has none."""
    path = f"/submissions/v3/integration/submit/{portal_id}/{form_id}"
    return call(sandbox, "POST", path, auth=False, body=body)


@pytest.mark.parametrize("tier", ["professional", "enterprise"])
def test_public_form_submission_creates_the_contact_and_is_listed(
    make_sandbox: Callable[..., Sandbox], now: datetime, tier: str
) -> None:
    sandbox = make_sandbox(Portal.generate(seed=3, contacts=50, now=now), tier=tier)
    form = next(f for f in sdk(sandbox).marketing.forms.forms_api.get_page().results)
    submitted = to_ms(now - timedelta(minutes=5))
    typed = "New.Person@Example.org"
    answer = _submit(
        sandbox,
        form.id,
        {
            "submittedAt": str(submitted),
            "fields": [
                {"objectTypeId": "0-1", "name": "email", "value": typed},
                {"objectTypeId": "0-1", "name": "firstname", "value": "Nia"},
                {"objectTypeId": "0-1", "name": "lastname", "value": "Okoro"},
            ],
            "context": {"pageUri": "https://www.example.com/demo?x=1", "pageName": "Demo"},
        },
    )
    assert answer.status_code == 200 and answer.json() == {
        "inlineMessage": "Thanks for submitting the form."
    }
    newest = _submissions(sandbox, form.id, limit=1)[0]
    assert newest["submittedAt"] == submitted
    assert newest["pageUrl"] == "https://www.example.com/demo?x=1"
    assert {v["name"]: v["value"] for v in newest["values"]} == {
        "email": typed,
        "firstname": "Nia",
        "lastname": "Okoro",
    }
    client = sdk(sandbox)
    contact = client.crm.contacts.basic_api.get_by_id(
        "new.person@example.org", id_property="email", properties=["firstname", "lastname"]
    )
    assert (contact.properties["firstname"], contact.properties["lastname"]) == ("Nia", "Okoro")
    if tier == "enterprise":
        events = client.events.events_api.get_page(
            object_type="contact", object_id=int(contact.id), event_type="e_submitted_form"
        )
        assert [e.properties for e in events.results] == [
            {
                "hs_form_id": form.id,
                "hs_form_title": form.name,
                "hs_url": "https://www.example.com/demo?x=1",
                "hs_page_title": "Demo",
            }
        ]
        assert to_ms(events.results[0].occurred_at) == submitted
    else:
        with pytest.raises(EventsApiException) as refused:
            client.events.events_api.get_page(object_type="contact", limit=1)
        assert refused.value.status == 403


def test_public_form_submission_errors(seeded: Sandbox) -> None:
    form = sdk(seeded).marketing.forms.forms_api.get_page().results[0]
    bad = _submit(
        seeded,
        form.id,
        {"fields": [{"name": "email", "value": "not-an-email"}, {"name": "shoe", "value": "9"}]},
    )
    assert bad.status_code == 400
    body = bad.json()
    assert body["status"] == "error" and body["message"] == "The request is not valid"
    assert sorted(e["errorType"] for e in body["errors"]) == [
        "FIELD_NOT_IN_FORM_DEFINITION",
        "INVALID_EMAIL",
    ]
    missing = _submit(seeded, form.id, {"fields": [{"name": "firstname", "value": "A"}]})
    assert [e["errorType"] for e in missing.json()["errors"]] == ["REQUIRED_FIELD"]
    fields = {"fields": [{"name": "email", "value": "a@b.co"}]}
    assert _submit(seeded, form.id, fields, portal_id=2).status_code == 404
    assert _submit(seeded, "no-such-form", fields).status_code == 404


def _email_pages(sandbox: Sandbox, path: str, key: str, **qs: object) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    query: dict[str, object] = {"limit": 100, **qs}
    while True:
        response = call(sandbox, "GET", path, qs=query)
        assert response.status_code == 200, response.text
        body = response.json()
        found += body[key]
        if not body["hasMore"]:
            return found
        query["offset"] = body["offset"]


def test_email_events_page_by_offset_newest_first(seeded: Sandbox) -> None:
    events = _email_pages(seeded, "/email/public/v1/events", "events")
    assert len(events) == len(seeded.portal._email_events) > 100
    assert len({e["id"] for e in events}) == len(events)
    created = [e["created"] for e in events]
    assert created == sorted(created, reverse=True)
    assert {e["type"] for e in events} == {"OPEN", "CLICK", "BOUNCE", "STATUSCHANGE"}
    first = events[0]
    assert {"id", "created", "type", "recipient", "portalId", "appId", "appName"} <= set(first)
    assert isinstance(first["emailCampaignId"], int) and set(first["sentBy"]) == {"id", "created"}
    clicks = _email_pages(seeded, "/email/public/v1/events", "events", eventType="CLICK")
    assert clicks and all(e["type"] == "CLICK" and e["url"] for e in clicks)
    bounces = [e for e in events if e["type"] == "BOUNCE"]
    assert all(e["category"] == "HARD_BOUNCE" for e in bounces)
    # Both bounds are inclusive, as HubSpot documents.
    middle = events[len(events) // 2]["created"]
    window = _email_pages(
        seeded, "/email/public/v1/events", "events", startTimestamp=middle, endTimestamp=middle
    )
    assert window and all(e["created"] == middle for e in window)
    over = call(seeded, "GET", "/email/public/v1/events", qs={"limit": 1001})
    assert over.status_code == 400


def test_subscription_timeline_from_unsubscribes_and_hard_bounces(seeded: Sandbox) -> None:
    timeline = _email_pages(seeded, "/email/public/v1/subscriptions/timeline", "timeline", limit=3)
    events = _email_pages(seeded, "/email/public/v1/events", "events")
    causes = {e["id"]: e for e in events if e["type"] in ("STATUSCHANGE", "BOUNCE")}
    assert len(timeline) == len(causes) > 3
    stamps = [item["timestamp"] for item in timeline]
    assert stamps == sorted(stamps, reverse=True)
    for item in timeline:
        (change,) = item["changes"]
        cause = causes[change["causedByEvent"]["id"]]
        assert item["recipient"] == cause["recipient"] and item["portalId"] == 1
        expected = (
            ("UNSUBSCRIBED", "SUBSCRIPTION_STATUS")
            if cause["type"] == "STATUSCHANGE"
            else ("BOUNCED", "PORTAL_BOUNCE")
        )
        assert (change["change"], change["changeType"]) == expected
        assert change["causedByEvent"]["created"] == cause["created"] == change["timestamp"]


def test_sandbox_writers_feed_email_events_and_page_views(seeded: Sandbox) -> None:
    client = sdk(seeded)
    contact = client.crm.contacts.basic_api.get_by_id("1", properties=["email"])
    email = contact.properties["email"]
    opened = call(
        seeded,
        "POST",
        "/_sandbox/email-events",
        body={"recipient": email, "type": "OPEN", "emailCampaignId": 310_000},
    )
    assert opened.status_code == 201 and opened.json()["type"] == "OPEN"
    stranger = call(
        seeded,
        "POST",
        "/_sandbox/email-events",
        body={
            "recipient": "nobody@elsewhere.net",
            "type": "BOUNCE",
            "category": "SOFT_BOUNCE",
            "emailCampaignId": 310_017,
        },
    )
    assert stranger.status_code == 201 and stranger.json()["category"] == "SOFT_BOUNCE"
    mine = _email_pages(seeded, "/email/public/v1/events", "events", recipient=email)
    assert opened.json() in mine
    theirs = _email_pages(
        seeded, "/email/public/v1/events", "events", recipient="nobody@elsewhere.net"
    )
    assert theirs == [stranger.json()]
    seen = client.events.events_api.get_page(
        object_type="contact", object_id=1, event_type="e_opened_email", limit=100
    )
    assert opened.json()["id"] in [e.id for e in seen.results]
    # Not a contact: an email event only, never in events v3.
    since = datetime.fromtimestamp(stranger.json()["created"] / 1000, UTC)
    recent = client.events.events_api.get_page(occurred_after=since, limit=100)
    assert stranger.json()["id"] not in [e.id for e in recent.results]
    assert opened.json()["id"] in [e.id for e in recent.results]
    viewed = call(
        seeded,
        "POST",
        "/_sandbox/page-views",
        body={
            "email": "visitor@new.io",
            "url": "https://www.example.com/pricing",
            "title": "Pricing",
        },
    )
    assert viewed.status_code == 201
    visitor = client.crm.contacts.basic_api.get_by_id("visitor@new.io", id_property="email")
    views = client.events.events_api.get_page(
        object_type="contact", object_id=int(visitor.id), event_type="e_visited_page"
    )
    assert [e.properties for e in views.results] == [
        {"hs_url": "https://www.example.com/pricing", "hs_page_title": "Pricing"}
    ]
    denied = call(seeded, "POST", "/_sandbox/page-views", auth=False, body={"url": "x"})
    assert denied.status_code == 401


def _expected_stage_dates(history: list[Any]) -> dict[str, str]:
    """What HubSpot calculates, from the SDK's history (newest first)."""
    dates: dict[str, str] = {}
    previous = ""
    for entry in reversed(history):
        stamp = iso(to_ms(entry.timestamp))
        if entry.value == previous:
            continue
        if previous:
            dates[f"hs_v2_date_exited_{previous}"] = stamp
        if entry.value:
            dates[f"hs_v2_date_entered_{entry.value}"] = stamp
            dates.pop(f"hs_v2_date_exited_{entry.value}", None)
        previous = entry.value
    return dates


def test_stage_dates_are_calculated_read_only_properties(seeded: Sandbox) -> None:
    client = sdk(seeded)
    names = [
        f"{p}{s}" for s in LIFECYCLE_STAGES for p in ("hs_v2_date_entered_", "hs_v2_date_exited_")
    ]
    defined = {p.name: p for p in client.crm.properties.core_api.get_all("contacts").results}
    for name in names:
        assert defined[name].calculated is True and defined[name].type == "datetime"
        assert defined[name].modification_metadata.read_only_value is True
    page = client.crm.contacts.basic_api.get_page(
        limit=50, properties=names, properties_with_history=["lifecyclestage"]
    )
    moved = 0
    for contact in page.results:
        expected = _expected_stage_dates(contact.properties_with_history["lifecyclestage"])
        got = {n: v for n, v in contact.properties.items() if n in names and v is not None}
        assert {n: iso(parse_ms(v)) for n, v in got.items()} == expected
        moved += len(expected) > 1
    assert moved  # some contacts went through several stages
    one = page.results[0]
    read = client.crm.contacts.basic_api.get_by_id(one.id, properties=names)
    batch = client.crm.contacts.batch_api.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=one.id)], properties=names, properties_with_history=[]
        )
    )
    found = client.crm.contacts.search_api.do_search(
        PublicObjectSearchRequest(
            filter_groups=[
                FilterGroup(
                    filters=[Filter(property_name="hs_object_id", operator="EQ", value=one.id)]
                )
            ],
            properties=names,
        )
    )
    assert read.properties == batch.results[0].properties == found.results[0].properties
    assert {n: read.properties[n] for n in names} == {n: one.properties[n] for n in names}
    with pytest.raises(ApiException) as refused:
        client.crm.contacts.basic_api.update(
            one.id, SimplePublicObjectInput(properties={"hs_v2_date_entered_lead": "2026-01-01"})
        )
    assert refused.value.status == 400
    assert json.loads(refused.value.body)["errors"][0]["code"] == "READ_ONLY_VALUE"


def test_notes_and_tasks_batch_created_on_a_contact(seeded: Sandbox) -> None:
    """Hand-off notes and tasks: batch created with their association to the contact (note 202,
    task 204), read back through the contact's associations; a note body past HubSpot's
    65,536 characters is refused for its input alone (207)."""
    client = sdk(seeded)

    def to_contact(type_id: int) -> list[NotesAssociations]:
        spec = NotesAssociationSpec(
            association_category="HUBSPOT_DEFINED", association_type_id=type_id
        )
        return [NotesAssociations(to=NotesObjectId(id="1"), types=[spec])]

    notes = client.crm.objects.notes.batch_api.create(
        NotesBatchCreate(
            inputs=[
                NotesInput(
                    properties={
                        "hs_timestamp": "2026-10-30T09:00:00.000Z",
                        "hs_note_body": "<p>Why now: demo request</p><p>leadflow ref 1-sql-x</p>",
                        "hubspot_owner_id": "101",
                    },
                    associations=to_contact(202),
                )
            ]
        )
    )
    (note,) = notes.results
    assert "leadflow ref 1-sql-x" in note.properties["hs_note_body"]
    task = client.crm.objects.tasks.basic_api.create(
        TasksInput(
            properties={
                "hs_timestamp": "2026-10-30T17:00:00.000Z",
                "hs_task_subject": "Follow up SQL",
                "hs_task_status": "NOT_STARTED",
                "hs_task_priority": "HIGH",
            },
            associations=[
                TasksAssociations(
                    to=TasksObjectId(id="1"),
                    types=[
                        TasksAssociationSpec(
                            association_category="HUBSPOT_DEFINED", association_type_id=204
                        )
                    ],
                )
            ],
        )
    )
    linked = client.crm.associations.v4.batch_api.get_page(
        "contacts",
        "notes",
        BatchInputPublicFetchAssociationsBatchRequest(
            inputs=[PublicFetchAssociationsBatchRequest(id="1")]
        ),
    )
    assert [str(t.to_object_id) for t in linked.results[0].to] == [note.id]
    read = client.crm.objects.tasks.basic_api.get_by_id(
        task.id, properties=["hs_task_subject"], associations=["contacts"]
    )
    assert read.properties["hs_task_subject"] == "Follow up SQL"
    assert [a.id for a in read.associations["contacts"].results] == ["1"]

    link = {
        "to": {"id": "1"},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}],
    }
    at = "2026-10-30T09:00:00.000Z"
    response = seeded.http.post(
        "/crm/v3/objects/notes/batch/create",
        json={
            "inputs": [
                {
                    "properties": {"hs_timestamp": at, "hs_note_body": "x" * 65_537},
                    "associations": [link],
                },
                {"properties": {"hs_timestamp": at, "hs_note_body": "ok"}, "associations": [link]},
            ]
        },
    )
    assert response.status_code == 207
    body = response.json()
    assert len(body["results"]) == 1 and body["errors"][0]["context"] == {"inputIndex": ["0"]}
    assert "65536" in body["errors"][0]["message"]


def test_static_lists_take_memberships_as_hubspot_answers(seeded: Sandbox) -> None:
    """A MANUAL list: add and remove in one request; HubSpot's answer names what it added
    (`recordsIdsAdded`), removed and could not find, and ignores ids already in or out; a
    DYNAMIC list refuses membership writes."""
    lists = sdk(seeded).crm.lists
    created = lists.lists_api.create(
        ListCreateRequest(name="leadflow nurture", object_type_id="0-1", processing_type="MANUAL")
    )
    list_id = created.list.list_id
    assert created.list.processing_type == "MANUAL"
    first = lists.memberships_api.add_and_remove(
        list_id,
        MembershipChangeRequest(record_ids_to_add=["1", "2", "999999"], record_ids_to_remove=[]),
    )
    assert first.records_ids_added == ["1", "2"] and first.record_ids_missing == ["999999"]
    second = lists.memberships_api.add_and_remove(
        list_id, MembershipChangeRequest(record_ids_to_add=["1"], record_ids_to_remove=["2", "3"])
    )
    assert second.records_ids_added == [] and second.record_ids_removed == ["2"]
    page = lists.memberships_api.get_page(list_id)
    assert [m.record_id for m in page.results] == ["1"]
    assert lists.lists_api.get_by_id(list_id).list.size == 1
    by_name = lists.lists_api.get_by_name("leadflow nurture", "0-1")
    assert by_name.list.list_id == list_id

    dynamic = lists.lists_api.create(
        ListCreateRequest(name="everyone", object_type_id="0-1", processing_type="DYNAMIC")
    )
    with pytest.raises(ListsApiException) as refused:
        lists.memberships_api.add_and_remove(
            dynamic.list.list_id,
            MembershipChangeRequest(record_ids_to_add=["1"], record_ids_to_remove=[]),
        )
    assert refused.value.status == 400 and "MANUAL or SNAPSHOT" in refused.value.body
