"""The v4 associations API: list an object's associations, read them in batch, link two.

Rows list only live targets, ordered by id, each with its association types (labelled
"Primary" where HubSpot does); creating the default association links both ways.
"""

from __future__ import annotations

from typing import Any

from leadflow.sources.hubspot.sandbox.records import _ASSOCIATION_TYPES, _association_json
from leadflow.sources.hubspot.sandbox.state import PortalState, _locked
from leadflow.sources.hubspot.sandbox.values import (
    MAX_ASSOCIATION_BATCH,
    MAX_ASSOCIATION_PAGE,
    Reply,
    _check_limit,
    _inputs,
    _not_found,
    _object_id,
    _offset,
    iso,
    normalize_type,
)


class AssociationsApi(PortalState):
    """Endpoints under /crm/v4/objects/{type}/{id}/associations and /crm/v4/associations."""

    def _targets(self, a: str, a_id: int, b: str) -> list[dict[str, Any]]:
        """v4 association rows to live objects, ordered by target id."""
        return [
            {"toObjectId": b_id, "associationTypes": [_association_json(k) for k in kinds]}
            for b_id, kinds in self._live_links(a, a_id, b)
        ]

    @_locked
    def list_associations(
        self,
        from_type: str,
        object_id: str,
        to_type: str,
        *,
        limit: int = MAX_ASSOCIATION_PAGE,
        after: str | None = None,
    ) -> Reply:
        a, b = normalize_type(from_type), normalize_type(to_type)
        _check_limit(limit, MAX_ASSOCIATION_PAGE)
        start = _offset(after)
        oid = _object_id(object_id)
        targets = self._targets(a, oid, b) if oid is not None else []
        body: dict[str, Any] = {"results": targets[start : start + limit]}
        if start + limit < len(targets):
            body["paging"] = {"next": {"after": str(start + limit)}}
        return 200, body

    @_locked
    def batch_read_associations(self, from_type: str, to_type: str, body: Any) -> Reply:
        """Inputs without (live) associations are simply absent from results, as in HubSpot."""
        a, b = normalize_type(from_type), normalize_type(to_type)
        results = []
        for item in _inputs(body, MAX_ASSOCIATION_BATCH):
            oid = _object_id(item.get("id"))
            targets = self._targets(a, oid, b) if oid is not None else []
            if targets:
                results.append({"from": {"id": str(oid)}, "to": targets})
        now = iso(self._now_ms())
        return 200, {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}

    @_locked
    def create_default_association(
        self, from_type: str, from_id: str, to_type: str, to_id: str
    ) -> Reply:
        a, b = normalize_type(from_type), normalize_type(to_type)
        a_id, b_id = _object_id(from_id), _object_id(to_id)
        for t, oid, raw in ((a, a_id, from_id), (b, b_id, to_id)):
            obj = self._objects[t].get(oid) if oid is not None else None
            if obj is None or obj.archived_ms is not None:
                raise _not_found(f"No {t} with id {raw}")
        type_id = self._default_type(a, b)
        self._link(a, a_id, b, b_id, type_id)
        spec = [(a_id, b_id, type_id), (b_id, a_id, _ASSOCIATION_TYPES[type_id].inverse)]
        now = iso(self._now_ms())
        results = [
            {
                "from": {"id": str(x)},
                "to": {"id": str(y)},
                "associationSpec": {
                    "associationCategory": "HUBSPOT_DEFINED",
                    "associationTypeId": k,
                },
            }
            for x, y, k in spec
        ]
        return 200, {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}
