"""The CRM objects API: one object at a time, merge, and the batch endpoints.

List (id-ordered, cursor paged), read, create, patch, delete and merge contacts, companies and
deals, and batch read/create/update/upsert/archive with HubSpot's replies: 200/201 when every
input succeeded, 207 with per-input errors otherwise (missing ids grouped as one error).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import Any

from leadflow.sources.hubspot.sandbox.records import (
    _ASSOCIATION_TYPES,
    CrmObject,
    association_type_name,
)
from leadflow.sources.hubspot.sandbox.state import PortalState, _locked
from leadflow.sources.hubspot.sandbox.values import (
    _SINGULAR,
    ENGAGEMENT_TYPES,
    MAX_BATCH,
    MAX_HISTORY_PAGE,
    MAX_PAGE,
    ApiError,
    Reply,
    _check_limit,
    _inputs,
    _invalid,
    _not_found,
    _object_id,
    _offset,
    iso,
    normalize_type,
)

# "The note's text content, limited to 65,536 characters" (HubSpot's notes guide).
NOTE_BODY_LIMIT = 65_536


def _record_error(err: ApiError, key: str, idents: list[str]) -> dict[str, Any]:
    return {
        "status": "error",
        "category": err.category,
        "message": err.message,
        "context": {key: idents},
        "errors": err.errors,
        "links": {},
    }


class ObjectsApi(PortalState):
    """Portal endpoints under /crm/v3/objects/{type}: single objects, merge and batch."""

    # -- objects API ---------------------------------------------------------------------------

    @_locked
    def list_objects(
        self,
        object_type: str,
        *,
        limit: int = 10,
        after: str | None = None,
        properties: list[str] | None = None,
        archived: bool = False,
        history: list[str] | None = None,
        associations: list[str] | None = None,
    ) -> Reply:
        """Id-ordered page; the cursor is the id the next page starts at. With history asked
        for, a page holds at most MAX_HISTORY_PAGE objects, whatever the limit."""
        t = normalize_type(object_type)
        _check_limit(limit, MAX_PAGE)
        if history:
            limit = min(limit, MAX_HISTORY_PAGE)
        start = _offset(after)
        ids, objects = self._ids[t], self._objects[t]
        index = bisect.bisect_left(ids, start)
        page: list[CrmObject] = []
        while index < len(ids) and len(page) <= limit:
            obj = objects[ids[index]]
            if (obj.archived_ms is not None) == archived and obj.merged_into is None:
                page.append(obj)
            index += 1
        names = self._names(t, properties)
        body: dict[str, Any] = {
            "results": [self._render(o, names, history, associations) for o in page[:limit]]
        }
        if len(page) > limit:
            body["paging"] = {"next": {"after": str(page[limit].id)}}
        return 200, body

    @_locked
    def read_object(
        self,
        object_type: str,
        object_id: str,
        *,
        properties: list[str] | None = None,
        archived: bool = False,
        id_property: str | None = None,
        history: list[str] | None = None,
        associations: list[str] | None = None,
    ) -> Reply:
        t = normalize_type(object_type)
        obj = self._lookup(t, object_id, id_property, archived)
        if obj is None:
            raise _not_found(f"Object not found. objectId are usually numeric. ({object_id})")
        return 200, self._render(obj, self._names(t, properties), history, associations)

    def _render(
        self,
        obj: CrmObject,
        names: list[str],
        history: list[str] | None = None,
        associations: list[str] | None = None,
    ) -> dict[str, Any]:
        """An object's JSON with, when asked, its properties' history and its associations
        (`{"companies": {"results": [{"id", "type"}]}}`; a type with none is left out)."""
        body = obj.to_json(names)
        if history:
            body["propertiesWithHistory"] = obj.history_json(history)
        linked: dict[str, Any] = {}
        for name in associations or []:
            to_type = normalize_type(name)
            rows = [
                {"id": str(to_id), "type": association_type_name(kind)}
                for to_id, kinds in self._live_links(obj.type, obj.id, to_type)
                for kind in kinds
            ]
            if rows:
                linked[to_type] = {"results": rows}
        if linked:
            body["associations"] = linked
        return body

    @_locked
    def create_object(self, object_type: str, body: Any) -> Reply:
        t = normalize_type(object_type)
        if not isinstance(body, dict):
            raise _invalid("Request body must be an object")
        return 201, self._create(t, body).to_json()

    @_locked
    def patch_object(
        self, object_type: str, object_id: str, body: Any, id_property: str | None = None
    ) -> Reply:
        t = normalize_type(object_type)
        obj = self._lookup(t, object_id, id_property)
        if obj is None:
            raise _not_found(f"Object not found. objectId are usually numeric. ({object_id})")
        self._update(obj, body.get("properties") if isinstance(body, dict) else None)
        return 200, obj.to_json()

    @_locked
    def delete_object(self, object_type: str, object_id: str) -> Reply:
        t = normalize_type(object_type)
        obj = self._lookup(t, object_id, None)
        if obj is not None:
            self._archive(obj)
        return 204, None

    @_locked
    def merge(self, object_type: str, body: Any) -> Reply:
        """POST .../merge: fold `objectIdToMerge` into `primaryObjectId`.

        Like HubSpot: the primary keeps its id and values, empty ones filled from the other;
        the other's associations move over; the primary's `hs_merged_object_ids` lists every id
        folded into it and its modified date moves; the merged-away id leaves lists and search
        (also the archived list) and reads of it answer with the primary.
        """
        t = normalize_type(object_type)
        if not isinstance(body, dict):
            raise _invalid("Request body must be an object")
        primary_id = _object_id(body.get("primaryObjectId"))
        other_id = _object_id(body.get("objectIdToMerge"))
        if primary_id is None or other_id is None or primary_id == other_id:
            raise _invalid("primaryObjectId and objectIdToMerge must be two different ids")
        primary, other = self._require(t, primary_id), self._require(t, other_id)
        for name, value in other.properties.items():
            defn = self._properties[t].get(name)
            if defn is not None and not defn.read_only and name not in self._lookup_properties(t):
                primary.properties.setdefault(name, value)
        for (a, a_id, b), targets in list(self._links.items()):
            if a != t or a_id != other.id:
                continue
            for b_id, kinds in list(targets.items()):
                if kinds:
                    self._add_pair(t, primary.id, b, b_id, self._default_type(t, b))
                self._links.get((b, b_id, t), {}).pop(other.id, None)
            del self._links[(a, a_id, b)]
        merged = {
            *primary.properties.get("hs_merged_object_ids", "").split(";"),
            *other.properties.get("hs_merged_object_ids", "").split(";"),
            str(other.id),
        }
        primary.properties["hs_merged_object_ids"] = ";".join(
            sorted((m for m in merged if m), key=int)
        )
        self._archive(other)
        other.merged_into = primary.id
        for folded in self._objects[t].values():
            if folded.merged_into == other.id:
                folded.merged_into = primary.id
        self._stamp(primary, self._now_ms())
        self._version += 1
        return 200, primary.to_json()

    def _create(self, t: str, item: dict[str, Any]) -> CrmObject:
        values = self._validate_write(t, None, item.get("properties") or {})
        if t in ENGAGEMENT_TYPES and not values.get("hs_timestamp"):
            raise _invalid(f"hs_timestamp is required to create {t}: it places the activity")
        if t == "notes" and len(values.get("hs_note_body") or "") > NOTE_BODY_LIMIT:
            raise _invalid(f"hs_note_body is limited to {NOTE_BODY_LIMIT} characters")
        links = self._input_links(t, item.get("associations") or [])
        self._check_unique(t, None, values)
        now = self._now_ms()
        obj = self._insert(t, values, now, now)
        for to_type, to_id, type_id in links:
            self._link(t, obj.id, to_type, to_id, type_id)
        return obj

    def _update(self, obj: CrmObject, properties: Any) -> None:
        values = self._validate_write(obj.type, obj, properties)
        self._check_unique(obj.type, obj, values)
        self._write(obj, values, self._now_ms())

    def _input_links(self, t: str, specs: Any) -> list[tuple[str, int, int]]:
        """Validate `associations` of a create input: [(to_type, to_id, type_id)]."""
        if not isinstance(specs, list):
            raise _invalid("`associations` must be a list")
        links = []
        for spec in specs:
            if not isinstance(spec, dict) or not isinstance(spec.get("to"), dict):
                raise _invalid("Each association needs `to` and `types`")
            to_id = _object_id(spec["to"].get("id"))
            for kind in spec.get("types") or []:
                type_id = kind.get("associationTypeId") if isinstance(kind, dict) else None
                assoc = _ASSOCIATION_TYPES.get(type_id) if isinstance(type_id, int) else None
                if assoc is None or assoc.from_type != t:
                    raise _invalid(f"Invalid association type for {t}: {kind}")
                target = self._objects[assoc.to_type].get(to_id) if to_id is not None else None
                if target is None or target.archived_ms is not None:
                    raise _invalid(f"Association target {assoc.to_type} {to_id} does not exist")
                links.append((assoc.to_type, target.id, assoc.type_id))
        return links

    # -- batch ---------------------------------------------------------------------------------

    def _batch_reply(
        self,
        t: str,
        results: list[dict[str, Any]],
        failures: list[tuple[str, ApiError]],
        ok_status: int,
        key: str = "ids",
    ) -> Reply:
        """200/201, or 207 with errors: missing ids grouped as one, others one per input."""
        now = iso(self._now_ms())
        body: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": now,
            "completedAt": now,
        }
        missing = [ident for ident, err in failures if err.category == "OBJECT_NOT_FOUND"]
        errors = [
            _record_error(err, key, [ident])
            for ident, err in failures
            if err.category != "OBJECT_NOT_FOUND"
        ]
        if missing:
            message = (
                f"Could not get some {_SINGULAR[t]} objects, they may be deleted or not "
                "exist. Check that ids are valid."
            )
            errors.insert(0, _record_error(_not_found(message), key, missing))
        if not errors:
            return ok_status, body
        return 207, {**body, "numErrors": len(errors), "errors": errors}

    @_locked
    def batch_read(self, object_type: str, body: Any) -> Reply:
        t = normalize_type(object_type)
        inputs = _inputs(body, MAX_BATCH)
        id_property = body.get("idProperty")
        names = self._names(t, body.get("properties"))
        history = body.get("propertiesWithHistory") or None
        results, failures = [], []
        for item in inputs:
            ident = str(item.get("id", ""))
            obj = self._lookup(t, ident, id_property)
            if obj is None:
                failures.append((ident, _not_found(ident)))
            else:
                results.append(self._render(obj, names, history))
        return self._batch_reply(t, results, failures, 200)

    @_locked
    def batch_create(self, object_type: str, body: Any) -> Reply:
        """Failed inputs are reported by position: context {"inputIndex": ["2"]}."""
        t = normalize_type(object_type)
        results, failures = [], []
        for position, item in enumerate(_inputs(body, MAX_BATCH)):
            try:
                results.append(self._create(t, item).to_json())
            except ApiError as err:
                failures.append((str(position), err))
        return self._batch_reply(t, results, failures, 201, key="inputIndex")

    @_locked
    def batch_update(
        self, object_type: str, body: Any, inject_failure: Callable[[], bool] | None = None
    ) -> Reply:
        """Per-input update by id or `idProperty`; `inject_failure` drops inputs (faults)."""
        t = normalize_type(object_type)
        results, failures = [], []
        for item in _inputs(body, MAX_BATCH):
            ident = str(item.get("id", ""))
            try:
                obj = self._lookup(t, ident, item.get("idProperty") or body.get("idProperty"))
                if obj is None:
                    raise _not_found(ident)
                _maybe_inject(inject_failure)
                self._update(obj, item.get("properties") or {})
                results.append(obj.to_json())
            except ApiError as err:
                failures.append((ident, err))
        return self._batch_reply(t, results, failures, 200)

    @_locked
    def batch_upsert(
        self, object_type: str, body: Any, inject_failure: Callable[[], bool] | None = None
    ) -> Reply:
        """Update the record whose `idProperty` equals `id`, or create it with that value."""
        t = normalize_type(object_type)
        results, failures = [], []
        for item in _inputs(body, MAX_BATCH):
            ident = str(item.get("id", ""))
            id_property = item.get("idProperty") or body.get("idProperty")
            try:
                results.append(self._upsert(t, ident, id_property, item, inject_failure))
            except ApiError as err:
                failures.append((ident, err))
        return self._batch_reply(t, results, failures, 200)

    def _upsert(
        self,
        t: str,
        ident: str,
        id_property: str | None,
        item: dict[str, Any],
        inject_failure: Callable[[], bool] | None,
    ) -> dict[str, Any]:
        obj = self._lookup(t, ident, id_property)
        if obj is None and id_property in (None, "", "hs_object_id"):
            raise _not_found(ident)
        _maybe_inject(inject_failure)
        properties = item.get("properties") or {}
        if obj is not None:
            self._update(obj, properties)
            return {**obj.to_json(), "new": False}
        if not isinstance(properties, dict):
            raise _invalid("`properties` must be an object")
        created = self._create(t, {"properties": {**properties, str(id_property): ident}})
        return {**created.to_json(), "new": True}

    @_locked
    def batch_archive(self, object_type: str, body: Any) -> Reply:
        """Archives what exists; unknown ids are ignored, like HubSpot (always 204)."""
        t = normalize_type(object_type)
        for item in _inputs(body, MAX_BATCH):
            obj = self._lookup(t, str(item.get("id", "")), None)
            if obj is not None:
                self._archive(obj)
        return 204, None


def _maybe_inject(inject_failure: Callable[[], bool] | None) -> None:
    if inject_failure is not None and inject_failure():
        raise _invalid("injected failure")
