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

from leadflow.sources.hubspot.sandbox.values import iso


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

    def to_json(self, names: Iterable[str] | None = None) -> dict[str, Any]:
        """HubSpot's object JSON; `names` selects properties (unset ones render as null)."""
        props = self.properties
        selected = (
            dict(sorted(props.items())) if names is None else {n: props.get(n) for n in names}
        )
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
    """A behavioural event; `seq` orders ties and is the tail of the event's id."""

    seq: int
    object_type: str
    object_id: int
    event_type: str
    occurred_ms: int
    properties: dict[str, str]


_event_key = operator.attrgetter("occurred_ms", "seq")


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
    )
}
_DEFAULT_ASSOCIATION = {
    (k.from_type, k.to_type): k.type_id for k in _ASSOCIATION_TYPES.values() if not k.primary
}


def _association_json(type_id: int) -> dict[str, Any]:
    label = "Primary" if _ASSOCIATION_TYPES[type_id].primary else None
    return {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": label}
