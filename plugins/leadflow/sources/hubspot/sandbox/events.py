"""The Events API: behavioural events by object, type and time window, and custom events.

Events list in (occurredAt, id) order with time bounds that never overlap and cursors that stay
stable while new events arrive. A custom event is defined first (`/events/v3/event-definitions`,
which names it `pe<portalId>_<name>`), then sent by that name for a contact by id or by email
(a new email creates the contact); HubSpot's built-in events cannot be sent.
"""

from __future__ import annotations

import bisect
import re
from typing import Any

from leadflow.sources.hubspot.sandbox.records import CrmObject, Event, _event_key
from leadflow.sources.hubspot.sandbox.state import PortalState, _locked
from leadflow.sources.hubspot.sandbox.values import (
    _SINGULAR,
    MAX_EVENT_PAGE,
    ApiError,
    Reply,
    _check_limit,
    _decode_cursor,
    _encode_cursor,
    _invalid,
    iso,
    normalize_type,
    parse_ms,
)

PORTAL_ID = 1  # the sandbox's HubSpot account id, in custom event names: pe1_<name>
_EVENT_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,49}")


class EventsApi(PortalState):
    """Endpoints under /events/v3."""

    @_locked
    def create_event_definition(self, body: Any) -> Reply:
        """Define a custom event on contacts; its name to send is `pe<portalId>_<name>`."""
        if not isinstance(body, dict) or not isinstance(body.get("label"), str):
            raise _invalid("`label` is required")
        name = body.get("name") or re.sub(r"[^a-z0-9]+", "_", body["label"].lower()).strip("_")
        if not _EVENT_NAME_RE.fullmatch(name):
            raise _invalid(f"Invalid event name {name!r}: lower-case letters, digits and _")
        full = f"pe{PORTAL_ID}_{name}"
        if full in self._event_definitions:
            raise ApiError(409, "CONFLICT", f"An event named {name} already exists")
        now = iso(self._now_ms())
        definition = {
            "name": name,
            "label": body["label"],
            "description": body.get("description", ""),
            "fullyQualifiedName": full,
            "primaryObject": "CONTACT",
            "archived": False,
            "createdAt": now,
            "updatedAt": now,
            "properties": list(body.get("propertyDefinitions") or []),
        }
        self._event_definitions[full] = definition
        return 201, definition

    @_locked
    def list_event_definitions(self) -> Reply:
        return 200, {"results": list(self._event_definitions.values())}

    def _event_json(self, event: Event) -> dict[str, Any]:
        return {
            "objectType": _SINGULAR[event.object_type],
            "objectId": str(event.object_id),
            "eventType": event.event_type,
            "occurredAt": iso(event.occurred_ms),
            "id": self._event_id(event.seq),
            "properties": dict(event.properties),
        }

    @_locked
    def list_events(
        self,
        *,
        object_type: str | None = None,
        object_id: int | None = None,
        event_type: str | None = None,
        occurred_after: int | None = None,
        occurred_before: int | None = None,
        after: str | None = None,
        limit: int = 10,
        descending: bool = False,
        object_property: tuple[str, str] | None = None,
    ) -> Reply:
        """Events ordered by (occurredAt, id), ascending unless `descending`.

        Bounds are epoch ms: `occurred_after` is inclusive (>=), `occurred_before` exclusive
        (<), so consecutive windows never overlap. Ids end in a per-portal sequence number, so
        id order equals insertion order. The cursor encodes the last returned event, so pages
        stay stable while new events arrive.
        """
        _check_limit(limit, MAX_EVENT_PAGE)
        t = normalize_type(object_type) if object_type else None
        if (object_id is not None or object_property) and t is None:
            raise _invalid("objectType is required when filtering by object")
        if object_property is not None:
            found = self._lookup(t, object_property[1], object_property[0])
            if found is None:
                return 200, {"results": []}
            object_id = found.id
        if object_id is not None:
            pool = self._events_by_object.get((t, object_id), [])
        elif event_type:
            pool = self._events_by_type.get(event_type, [])
        else:
            pool = self._events
        cursor = _decode_cursor(after, 2)
        page: list[Event] = []
        for index in _event_window(pool, occurred_after, occurred_before, cursor, descending):
            event = pool[index]
            if (
                (t is None or event.object_type == t)
                and (event_type is None or event.event_type == event_type)
                and (object_id is None or event.object_id == object_id)
            ):
                page.append(event)
                if len(page) > limit:
                    break
        body: dict[str, Any] = {"results": [self._event_json(e) for e in page[:limit]]}
        if len(page) > limit:
            last = page[limit - 1]
            body["paging"] = {"next": {"after": _encode_cursor(last.occurred_ms, last.seq)}}
        return 200, body

    @_locked
    def event_types(self) -> Reply:
        return 200, {"eventTypes": sorted(self._events_by_type)}

    @_locked
    def send_event(self, body: Any) -> Reply:
        """Record a custom event for a contact given by objectId or email (created if new)."""
        if not isinstance(body, dict) or not isinstance(body.get("eventName"), str):
            raise _invalid("`eventName` is required")
        if body["eventName"] not in self._event_definitions:
            raise _invalid(
                f"Event {body['eventName']!r} is not defined: define it with POST"
                " /events/v3/event-definitions and send its fullyQualifiedName"
            )
        properties = body.get("properties") or {}
        if not isinstance(properties, dict):
            raise _invalid("`properties` must be an object")
        try:
            occurred = parse_ms(body["occurredAt"]) if body.get("occurredAt") else self._now_ms()
        except ValueError:
            raise _invalid(f"Invalid occurredAt: {body['occurredAt']!r}") from None
        contact = self._event_contact(body)
        self._new_event("contacts", contact.id, body["eventName"], occurred, properties)
        return 204, None

    @_locked
    def record_page_view(self, body: Any) -> Reply:
        """Sandbox-only: a page view (e_visited_page) for a contact by contactId or email, a
        new email creating the contact as a send does. HubSpot records views from its
        tracking code, which the sandbox has no equivalent for."""
        if not isinstance(body, dict) or not isinstance(body.get("url"), str):
            raise _invalid("`url` is required")
        try:
            occurred = parse_ms(body["occurredAt"]) if body.get("occurredAt") else self._now_ms()
        except ValueError:
            raise _invalid(f"Invalid occurredAt: {body['occurredAt']!r}") from None
        contact = self._event_contact({"objectId": body.get("contactId"), **body})
        props = {"hs_url": body["url"], "hs_page_title": body.get("title")}
        event = self._new_event("contacts", contact.id, "e_visited_page", occurred, props)
        return 201, self._event_json(event)

    def _event_contact(self, body: dict[str, Any]) -> CrmObject:
        if body.get("objectId") not in (None, ""):
            contact = self._lookup("contacts", str(body["objectId"]), None)
            if contact is None:
                raise _invalid(f"No contact with id {body['objectId']}")
            return contact
        email = body.get("email")
        if not isinstance(email, str) or "@" not in email:
            raise _invalid("`objectId` or `email` is required (utk is not supported)")
        found = self._lookup("contacts", email, "email")
        if found is not None:
            return found
        now = self._now_ms()
        return self._insert("contacts", {"email": email.lower()}, now, now)


def _event_window(
    pool: list[Event],
    after_ms: int | None,
    before_ms: int | None,
    cursor: tuple[int, ...] | None,
    descending: bool,
) -> range:
    """Index range of `pool` (sorted by (occurredAt, seq)) inside the bounds and cursor."""
    low = 0 if after_ms is None else bisect.bisect_left(pool, (after_ms, -1), key=_event_key)
    high = (
        len(pool)
        if before_ms is None
        else bisect.bisect_left(pool, (before_ms, -1), key=_event_key)
    )
    if cursor is not None and descending:
        high = min(high, bisect.bisect_left(pool, cursor, key=_event_key))
    elif cursor is not None:
        low = max(low, bisect.bisect_right(pool, cursor, key=_event_key))
    return range(high - 1, low - 1, -1) if descending else range(low, high)
