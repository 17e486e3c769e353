"""The stored records: CRM objects, owners, behavioural events and association types.

Plain dataclasses with HubSpot's JSON rendering, and the table of HubSpot-defined association
types between contacts, companies and deals. The indexes over these records and every rule for
changing them are in ``state.py``.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from leadflow.sources.hubspot.sandbox.properties import STAGE_DATE_PREFIXES
from leadflow.sources.hubspot.sandbox.values import _SINGULAR, iso


@dataclass(slots=True)
class CrmObject:
    """A contact, company or deal; `properties` holds only set values, all as strings."""

    id: int
    type: str
    properties: dict[str, str]
    created_ms: int
    updated_ms: int
    archived_ms: int | None = None
    merged_into: int | None = None  # set when merged away: gone from lists, reads redirect
    # Earlier values of the properties written since creation, oldest first: (value, ms,
    # sourceType). A property never rewritten has only its current value in its history.
    history: dict[str, list[tuple[str, int, str]]] | None = None

    def record_change(self, name: str, value: str | None, ms: int, source: str) -> None:
        """Keep the value `name` had before this write (and when it got it)."""
        if self.history is None:
            self.history = {}
        past = self.history.setdefault(name, [])
        old = self.properties.get(name)
        if not past and old is not None:
            past.append((old, self.created_ms, source))
        past.append((value or "", ms, source))  # a cleared value is recorded as ""

    def history_json(self, names: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """`propertiesWithHistory`: each named property's values, newest first."""
        past = self.history or {}
        body: dict[str, list[dict[str, Any]]] = {}
        for name in names:
            values = past.get(name)
            if values is None:
                current = self.properties.get(name)
                values = [] if current is None else [(current, self.created_ms, "CRM_UI")]
            body[name] = [
                {"value": v, "timestamp": iso(ms), "sourceType": src, "sourceId": "sandbox"}
                for v, ms, src in reversed(values)
            ]
        return body

    def stage_dates(self) -> dict[str, str]:
        """HubSpot's calculated hs_v2_date_entered_/exited_<stage>, from the lifecycle history:
        entered is when the contact last entered the stage, exited when it then left it (none
        while it is still there). Stages skipped on the way get no dates."""
        past = (self.history or {}).get("lifecyclestage")
        if past is None:
            current = self.properties.get("lifecyclestage")
            past = [] if current is None else [(current, self.created_ms, "CRM_UI")]
        dates: dict[str, str] = {}
        previous = ""
        for value, ms, _ in past:
            if value == previous:
                continue
            if previous:
                dates[f"hs_v2_date_exited_{previous}"] = iso(ms)
            if value:
                dates[f"hs_v2_date_entered_{value}"] = iso(ms)
                dates.pop(f"hs_v2_date_exited_{value}", None)
            previous = value
        return dates

    def to_json(self, names: Iterable[str] | None = None) -> dict[str, Any]:
        """HubSpot's object JSON; `names` selects properties (unset ones render as null).

        Calculated properties are not stored: they are computed when a read names them.
        """
        props = self.properties
        if names is None:
            selected = dict(sorted(props.items()))
        else:
            selected = {n: props.get(n) for n in names}
            calculated = [n for n in selected if n.startswith(STAGE_DATE_PREFIXES)]
            if calculated and self.type == "contacts":
                dates = self.stage_dates()
                selected.update((n, dates.get(n)) for n in calculated)
        body: dict[str, Any] = {
            "id": str(self.id),
            "properties": selected,
            "createdAt": iso(self.created_ms),
            "updatedAt": iso(self.updated_ms),
            "archived": self.archived_ms is not None,
        }
        if self.archived_ms is not None:
            body["archivedAt"] = iso(self.archived_ms)
        return body


@dataclass(slots=True)
class Owner:
    id: int
    email: str
    first_name: str
    last_name: str
    user_id: int
    created_ms: int
    archived: bool = False
    teams: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "email": self.email,
            "type": "PERSON",
            "firstName": self.first_name,
            "lastName": self.last_name,
            "userId": self.user_id,
            "userIdIncludingInactive": self.user_id,
            "createdAt": iso(self.created_ms),
            "updatedAt": iso(self.created_ms),
            "archived": self.archived,
            "teams": self.teams,
        }


@dataclass(slots=True)
class Event:
    """A behavioural event; `seq` orders ties and is the tail of the event's id.

    `extra` holds what the event's other views show but its properties do not: a form
    submission's values as typed, an email event's recipient, link or bounce category. An
    email event for an address that is no contact has `object_type` "" and is only an email
    event (events v3 never lists it).
    """

    seq: int
    object_type: str
    object_id: int
    event_type: str
    occurred_ms: int
    properties: dict[str, str]
    extra: dict[str, Any] | None = None


_event_key = operator.attrgetter("occurred_ms", "seq")


# The behavioural events that are also marketing email events, with their email event type.
EMAIL_EVENT_TYPES = {
    "e_opened_email": "OPEN",
    "e_clicked_email": "CLICK",
    "e_hard_bounced": "BOUNCE",
    "e_unsubscribed": "STATUSCHANGE",
}
SUBMISSION_EVENT = "e_submitted_form"


@dataclass(frozen=True, slots=True)
class FormField:
    name: str
    label: str
    field_type: str  # the forms API's fieldType: email, single_line_text ...
    required: bool = False


@dataclass(slots=True)
class Form:
    """A form definition; its submissions are the contacts' `e_submitted_form` events."""

    id: str
    name: str
    page_url: str  # where the form is embedded: a submission's pageUrl when it names none
    fields: tuple[FormField, ...]
    created_ms: int
    archived: bool = False


@dataclass(frozen=True)
class AssociationType:
    type_id: int
    from_type: str
    to_type: str
    inverse: int
    primary: bool = False


_ASSOCIATION_TYPES = {
    kind.type_id: kind
    for kind in (
        AssociationType(1, "contacts", "companies", 2, primary=True),
        AssociationType(2, "companies", "contacts", 1, primary=True),
        AssociationType(279, "contacts", "companies", 280),
        AssociationType(280, "companies", "contacts", 279),
        AssociationType(3, "deals", "contacts", 4),
        AssociationType(4, "contacts", "deals", 3),
        AssociationType(5, "deals", "companies", 6, primary=True),
        AssociationType(6, "companies", "deals", 5, primary=True),
        AssociationType(341, "deals", "companies", 342),
        AssociationType(342, "companies", "deals", 341),
        # Engagements to contacts (note 202 and call 194 from HubSpot's schemas; task 204,
        # email 198 and meeting 200 as public integrations use them), each with its inverse.
        *(
            kind
            for type_id, engagement in (
                (194, "calls"),
                (198, "emails"),
                (200, "meetings"),
                (202, "notes"),
                (204, "tasks"),
            )
            for kind in (
                AssociationType(type_id, engagement, "contacts", type_id - 1),
                AssociationType(type_id - 1, "contacts", engagement, type_id),
            )
        ),
    )
}
_PRIMARY_PAIRS = {(k.from_type, k.to_type) for k in _ASSOCIATION_TYPES.values() if k.primary}


def association_type_name(type_id: int) -> str:
    """The v3 name of a type, as the objects API lists associations: contact_to_company for
    the primary, contact_to_company_unlabeled beside it."""
    kind = _ASSOCIATION_TYPES[type_id]
    name = f"{_SINGULAR[kind.from_type]}_to_{_SINGULAR[kind.to_type]}".lower()
    unlabeled = (kind.from_type, kind.to_type) in _PRIMARY_PAIRS and not kind.primary
    return f"{name}_unlabeled" if unlabeled else name


_DEFAULT_ASSOCIATION = {
    (k.from_type, k.to_type): k.type_id for k in _ASSOCIATION_TYPES.values() if not k.primary
}


def _association_json(type_id: int) -> dict[str, Any]:
    """An association type as v4 lists it; an unlabeled one has no label key (the spec's
    label is a string, never null)."""
    body: dict[str, Any] = {"category": "HUBSPOT_DEFINED", "typeId": type_id}
    if _ASSOCIATION_TYPES[type_id].primary:
        body["label"] = "Primary"
    return body
