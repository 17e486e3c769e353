"""Connector paging and incremental extract against the sandbox over HTTP, into Postgres."""

from __future__ import annotations

from datetime import timedelta

from leadflow.db import connect, ensure_schema
from leadflow.sources.hubspot.client import HubSpotClient
from leadflow.sources.hubspot.streams import extract_stream

from .conftest import NOW

HOUR = timedelta(hours=1)


def _raw_ids(pg, table: str = "raw.hubspot_contacts") -> set[int]:
    with connect(pg) as conn:
        return {r[0] for r in conn.execute(f"select id from {table}")}


def test_list_paging_returns_every_contact_once(sandbox, hs) -> None:
    ids = [sandbox.portal.add_contact({"email": f"p{i}@x.test"}) for i in range(250)]
    with HubSpotClient(hs) as client:
        seen = [int(r["id"]) for r in client.list_objects("contacts", ["email"])]
    assert sorted(seen) == sorted(ids)


def test_search_window_survives_thousands_sharing_one_timestamp(sandbox, hs) -> None:
    """More than the 10,000-result search cap, all modified in the same millisecond."""
    stamp = NOW - 2 * HOUR
    ids = {
        sandbox.portal.add_contact({"email": f"s{i}@x.test"}, created_at=stamp, updated_at=stamp)
        for i in range(12_000)
    }
    before = sandbox.portal.add_contact({"email": "early@x.test"}, updated_at=stamp - HOUR)
    after = sandbox.portal.add_contact({"email": "late@x.test"}, updated_at=NOW + HOUR)
    with HubSpotClient(hs) as client:
        seen = {
            int(r["id"])
            for r in client.search_modified("contacts", ["email"], stamp - 2 * HOUR, NOW)
        }
    assert seen == ids | {before}
    assert after not in seen


def test_incremental_extract_reads_only_the_window_and_advances_the_cursor(sandbox, hs, pg):
    ensure_schema(pg)
    portal = sandbox.portal
    old = portal.add_contact(
        {"email": "old@x.test"}, created_at=NOW - 48 * HOUR, updated_at=NOW - 47 * HOUR
    )
    first = extract_stream("contacts", pg, hs, NOW - 2 * HOUR, NOW - HOUR, "l1")
    assert first.received == 1 and _raw_ids(pg) == {old}

    new = portal.add_contact({"email": "new@x.test"}, updated_at=NOW - 30 * timedelta(minutes=1))
    portal.update_object(
        "contacts", old, {"jobtitle": "CEO"}, updated_at=NOW - 20 * timedelta(minutes=1)
    )
    second = extract_stream("contacts", pg, hs, NOW - HOUR, NOW, "l2")
    assert second.received == 2 and second.changed == 2
    assert _raw_ids(pg) == {old, new}
    with connect(pg) as conn:
        title = conn.execute(
            "select record->'properties'->>'jobtitle' from raw.hubspot_contacts where id = %s",
            (old,),
        ).fetchone()[0]
        cursor = conn.execute(
            "select cursor_at from leadflow.stream_state where stream = 'contacts'"
        ).fetchone()[0]
    assert title == "CEO" and cursor == NOW

    # Re-running the same interval re-reads it and changes nothing.
    again = extract_stream("contacts", pg, hs, NOW - HOUR, NOW, "l2")
    assert again.changed == 0


def test_new_crm_property_arrives_in_raw_without_code_changes(sandbox, hs, pg) -> None:
    ensure_schema(pg)
    portal = sandbox.portal
    with HubSpotClient(hs) as client:
        client.create_property(
            "contacts",
            {
                "name": "favourite_colour",
                "label": "Colour",
                "type": "string",
                "fieldType": "text",
                "groupName": "contactinformation",
            },
        )
    cid = portal.add_contact(
        {"email": "c@x.test", "favourite_colour": "teal"}, updated_at=NOW - HOUR / 2
    )
    extract_stream("contacts", pg, hs, NOW - HOUR, NOW, "l1")
    with connect(pg) as conn:
        colour = conn.execute(
            "select record->'properties'->>'favourite_colour' from raw.hubspot_contacts"
            " where id = %s",
            (cid,),
        ).fetchone()[0]
    assert colour == "teal"


def test_deal_and_company_associations_and_events_land(sandbox, hs, pg) -> None:
    ensure_schema(pg)
    portal = sandbox.portal
    company = portal.add_company({"name": "Acme", "domain": "acme.test"}, updated_at=NOW - HOUR / 2)
    contact = portal.add_contact({"email": "a@acme.test"}, updated_at=NOW - HOUR / 2)
    deal = portal.add_deal(
        {"dealname": "D", "dealstage": "qualifiedtobuy"}, updated_at=NOW - HOUR / 2
    )
    portal.associate("contacts", contact, "companies", company, 1)
    portal.associate("deals", deal, "contacts", contact, 3)
    for i in range(30):
        portal.add_event(
            "e_visited_page",
            contact,
            NOW - timedelta(minutes=50 - i),
            {"hs_url": f"https://x.test/{i}"},
        )
    portal.add_event("e_visited_page", contact, NOW + HOUR, {"hs_url": "https://x.test/future"})
    for stream in ("companies", "contacts", "deals", "events"):
        extract_stream(stream, pg, hs, NOW - HOUR, NOW, "l1")
    with connect(pg) as conn:
        links = set(
            conn.execute("select from_type, from_id, to_type, to_id from raw.hubspot_associations")
        )
        events = conn.execute("select count(*) from raw.hubspot_events").fetchone()[0]
    assert ("contacts", contact, "companies", company) in links
    assert ("companies", company, "contacts", contact) in links
    assert ("deals", deal, "contacts", contact) in links
    assert ("contacts", contact, "deals", deal) in links
    assert events == 30  # the event after the interval end waits for its own run
