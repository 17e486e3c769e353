"""The Lists API: list definitions and their memberships, as HubSpot's v3 lists answer.

A list holds records of one object type (`objectTypeId`, "0-1" for contacts). Only MANUAL and
SNAPSHOT lists take membership writes; a DYNAMIC list's members follow its filters and a write
is refused with a 400. Writes answer with what they did: ids added (HubSpot spells the key
`recordsIdsAdded`), removed, and missing (no such record); ids that are already members, or
not members when removed, are ignored without being named.
"""

from __future__ import annotations

from typing import Any

from leadflow.sources.hubspot.sandbox.state import PortalState, _locked
from leadflow.sources.hubspot.sandbox.values import (
    Reply,
    _check_limit,
    _invalid,
    _not_found,
    _object_id,
    _offset,
    iso,
)

PROCESSING_TYPES = ("MANUAL", "SNAPSHOT", "DYNAMIC")
WRITABLE = ("MANUAL", "SNAPSHOT")
OBJECT_TYPE_IDS = {"0-1": "contacts", "0-2": "companies", "0-3": "deals"}
MAX_MEMBERSHIP_PAGE = 250


class ListsApi(PortalState):
    """Endpoints under /crm/v3/lists."""

    @_locked
    def create_list(self, body: Any) -> Reply:
        if not isinstance(body, dict) or not body.get("name"):
            raise _invalid("A list needs a name")
        processing = body.get("processingType")
        if processing not in PROCESSING_TYPES:
            raise _invalid(f"processingType must be one of {', '.join(PROCESSING_TYPES)}")
        object_type_id = body.get("objectTypeId")
        if object_type_id not in OBJECT_TYPE_IDS:
            raise _invalid(f"Unknown objectTypeId {object_type_id!r}")
        if any(
            d["name"] == body["name"] and d["objectTypeId"] == object_type_id
            for d in self._lists.values()
        ):
            raise _invalid(f"A list named {body['name']!r} already exists")
        now = iso(self._now_ms())
        list_id = self._next_list_id
        self._next_list_id += 1
        self._lists[list_id] = {
            "listId": str(list_id),
            "name": body["name"],
            "objectTypeId": object_type_id,
            "processingType": processing,
            "processingStatus": "COMPLETE",
            "listVersion": 1,
            "createdAt": now,
            "updatedAt": now,
        }
        self._list_members[list_id] = {}
        return 200, {"list": self._list_json(list_id)}

    @_locked
    def get_list(self, list_id: str) -> Reply:
        return 200, {"list": self._list_json(self._list_id(list_id))}

    @_locked
    def get_list_by_name(self, object_type_id: str, name: str) -> Reply:
        for list_id, definition in self._lists.items():
            if definition["objectTypeId"] == object_type_id and definition["name"] == name:
                return 200, {"list": self._list_json(list_id)}
        raise _not_found(f"List {name!r} does not exist")

    @_locked
    def change_memberships(self, list_id: str, add: Any, remove: Any) -> Reply:
        """PUT .../memberships/add, /remove (an array body) and /add-and-remove."""
        lid = self._list_id(list_id)
        definition = self._lists[lid]
        if definition["processingType"] not in WRITABLE:
            raise _invalid(
                f"List {lid} has processingType {definition['processingType']}: memberships can "
                "only be changed on MANUAL or SNAPSHOT lists"
            )
        members = self._list_members[lid]
        records = self._objects[OBJECT_TYPE_IDS[definition["objectTypeId"]]]
        added, removed, missing = [], [], []
        now = self._now_ms()
        for raw in _ids(add):
            obj = records.get(_object_id(raw) or -1)
            if obj is None or obj.archived_ms is not None:
                missing.append(str(raw))
            elif obj.id not in members:
                members[obj.id] = now
                added.append(str(obj.id))
        for raw in _ids(remove):
            record_id = _object_id(raw)
            if record_id is None or record_id not in records:
                missing.append(str(raw))
            elif members.pop(record_id, None) is not None:
                removed.append(str(record_id))
        if added or removed:
            definition["listVersion"] += 1
            definition["updatedAt"] = iso(now)
        return 200, {
            "recordsIdsAdded": added,
            "recordIdsRemoved": removed,
            "recordIdsMissing": missing,
        }

    @_locked
    def list_memberships(self, list_id: str, limit: int = 100, after: str | None = None) -> Reply:
        """Members in record id order, cursor paged."""
        _check_limit(limit, MAX_MEMBERSHIP_PAGE)
        members = sorted(self._list_members[self._list_id(list_id)].items())
        start = _offset(after)
        page = [(rid, ms) for rid, ms in members if rid >= start][: limit + 1]
        body: dict[str, Any] = {
            "results": [
                {"recordId": str(rid), "membershipTimestamp": iso(ms)} for rid, ms in page[:limit]
            ],
            "total": len(members),
        }
        if len(page) > limit:
            body["paging"] = {"next": {"after": str(page[limit][0])}}
        return 200, body

    def _list_id(self, raw: str) -> int:
        list_id = _object_id(raw)
        if list_id is None or list_id not in self._lists:
            raise _not_found(f"List {raw} does not exist")
        return list_id

    def _list_json(self, list_id: int) -> dict[str, Any]:
        return {**self._lists[list_id], "size": len(self._list_members[list_id])}


def _ids(raw: Any) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _invalid("Record ids must be a list of strings")
    return raw
