"""The portal's stored state and the internal reads and writes every API module shares.

:class:`PortalState` holds one account's objects and their indexes (ids in order, unique values,
associations both ways, events by object and by type), owners and property definitions, and the
primitives that change them consistently (``_insert``, ``_write``, ``_archive``, ``_link``,
``_new_event`` ...) and check API writes like HubSpot (``_validate_write``, ``_check_unique``
...). The API modules (``objects.py``, ``search.py``, ``properties_api.py``, ``owners.py``,
``associations.py``, ``events.py``, ``forms.py``, ``email_events.py``) each add one resource's
endpoints on top of it, and ``portal.py`` composes them into :class:`Portal`, the way moto
composes a service's backend.
"""

from __future__ import annotations

import bisect
import functools
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Concatenate, ParamSpec, TypeVar

from leadflow.sources.hubspot.sandbox.properties import (
    _MODIFIED,
    _NATURAL_KEYS,
    DEFAULT_PROPERTIES,
    SYSTEM_DEFAULTS,
    PropertyDef,
    _check_lifecycle,
    _default_properties,
    _format_value,
)
from leadflow.sources.hubspot.sandbox.records import (
    _ASSOCIATION_TYPES,
    _DEFAULT_ASSOCIATION,
    EMAIL_EVENT_TYPES,
    SUBMISSION_EVENT,
    AssociationType,
    CrmObject,
    Event,
    Form,
    Owner,
    _event_key,
)
from leadflow.sources.hubspot.sandbox.values import (
    _FIRST_ID,
    _SINGULAR,
    OBJECT_TYPES,
    ApiError,
    _invalid,
    _InvalidValue,
    _not_found,
    _object_id,
    iso,
    to_ms,
)

_S = TypeVar("_S", bound="PortalState")

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _locked(method: Callable[Concatenate[_S, _P], _R]) -> Callable[Concatenate[_S, _P], _R]:
    """Run a Portal method under the portal's lock (re-entrant, so methods may nest)."""

    @functools.wraps(method)
    def wrapper(self: _S, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self.lock:
            return method(self, *args, **kwargs)

    return wrapper


class PortalState:
    """One HubSpot account's CRM state and the internal operations that keep it consistent.

    Nothing here is an endpoint: the API modules build on it and :class:`Portal` composes them.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.request_log: list[tuple[str, str, int]] = []
        self._log_lock = threading.Lock()
        self._properties = _default_properties()
        self._objects: dict[str, dict[int, CrmObject]] = {t: {} for t in OBJECT_TYPES}
        self._ids: dict[str, list[int]] = {t: [] for t in OBJECT_TYPES}
        self._next_id = dict(_FIRST_ID)
        self._unique: dict[str, dict[str, dict[str, int]]] = {t: {} for t in OBJECT_TYPES}
        self._links: dict[tuple[str, int, str], dict[int, set[int]]] = {}
        self._owners: dict[int, Owner] = {}
        self._next_owner_id = 101
        self._events: list[Event] = []
        self._events_by_object: dict[tuple[str, int], list[Event]] = {}
        self._events_by_type: dict[str, list[Event]] = {}
        self._next_event_seq = 1
        self._event_definitions: dict[str, dict[str, Any]] = {}  # by fullyQualifiedName
        self._event_prefix = "00000000-0000-4000-8000-"
        # One store, several views: form submissions and marketing email events are events,
        # indexed again by form and as email events (these also hold non-contacts' events).
        self._forms: dict[str, Form] = {}
        self._submissions: dict[str, list[Event]] = {}
        self._email_events: list[Event] = []
        # Lists (lists.py): definitions by id, and each list's members (record id -> joined ms).
        self._lists: dict[int, dict[str, Any]] = {}
        self._list_members: dict[int, dict[int, int]] = {}
        self._next_list_id = 1
        self._version = 0
        self._search_cache: dict[str, tuple[int, list[int]]] = {}

    def _now_ms(self) -> int:
        return to_ms(self.clock())

    # -- internal state changes ----------------------------------------------------------------

    def _insert(
        self, t: str, values: dict[str, str | None], created: int, updated: int
    ) -> CrmObject:
        """Store a new object (values already validated) and index it."""
        oid = self._next_id[t]
        self._next_id[t] += 1
        props = {k: v for k, v in values.items() if v is not None}
        props["hs_object_id"] = str(oid)
        props["createdate"] = iso(created)
        obj = CrmObject(oid, t, props, created, updated)
        self._stamp(obj, updated)
        self._objects[t][oid] = obj
        self._ids[t].append(oid)
        for name in self._lookup_properties(t):
            if name in props:
                self._unique[t].setdefault(name, {})[props[name].lower()] = oid
        self._version += 1
        return obj

    def _stamp(self, obj: CrmObject, ms: int) -> None:
        obj.updated_ms = ms
        obj.properties["hs_lastmodifieddate"] = iso(ms)
        if obj.type == "contacts":
            obj.properties["lastmodifieddate"] = iso(ms)

    def _write(
        self, obj: CrmObject, values: dict[str, str | None], updated: int, source: str = "API"
    ) -> None:
        lookups = self._lookup_properties(obj.type)
        for name, value in values.items():
            if name in lookups:
                self._reindex(obj, name, value)
            if value != obj.properties.get(name):
                obj.record_change(name, value, updated, source)
            if value is None:
                obj.properties.pop(name, None)
            else:
                obj.properties[name] = value
        self._stamp(obj, updated)
        self._version += 1

    def _reindex(self, obj: CrmObject, name: str, value: str | None) -> None:
        index = self._unique[obj.type].setdefault(name, {})
        old = obj.properties.get(name)
        if old is not None and index.get(old.lower()) == obj.id:
            del index[old.lower()]
        if value is not None:
            index[value.lower()] = obj.id

    def _archive(self, obj: CrmObject) -> None:
        if obj.archived_ms is not None:
            return
        for name in self._lookup_properties(obj.type):
            if name in obj.properties:
                self._reindex(obj, name, None)
        obj.archived_ms = self._now_ms()
        self._version += 1

    def _link(self, a_type: str, a_id: int, b_type: str, b_id: int, type_id: int) -> None:
        kind = _ASSOCIATION_TYPES.get(type_id)
        if kind is None or (kind.from_type, kind.to_type) != (a_type, b_type):
            raise _invalid(f"Association type {type_id} is not valid from {a_type} to {b_type}")
        if kind.primary and a_type == "companies":
            # Primary is owned by the contact/deal side: at most one primary company each.
            self._link(b_type, b_id, a_type, a_id, kind.inverse)
            return
        if kind.primary:
            self._drop_primary(a_type, a_id, b_type, kind)
            self._add_pair(a_type, a_id, b_type, b_id, self._default_type(a_type, b_type))
            if a_type == "contacts":
                self._objects[a_type][a_id].properties["associatedcompanyid"] = str(b_id)
        self._add_pair(a_type, a_id, b_type, b_id, type_id)
        self._version += 1

    def _live_links(self, a_type: str, a_id: int, b_type: str) -> list[tuple[int, list[int]]]:
        """The association types from one object to each live object of `b_type`, by id."""
        live = self._objects[b_type]
        return [
            (b_id, sorted(kinds))
            for b_id, kinds in sorted(self._links.get((a_type, a_id, b_type), {}).items())
            if kinds and live[b_id].archived_ms is None
        ]

    def _add_pair(self, a_type: str, a_id: int, b_type: str, b_id: int, type_id: int) -> None:
        self._links.setdefault((a_type, a_id, b_type), {}).setdefault(b_id, set()).add(type_id)
        inverse = _ASSOCIATION_TYPES[type_id].inverse
        self._links.setdefault((b_type, b_id, a_type), {}).setdefault(a_id, set()).add(inverse)

    def _drop_primary(self, a_type: str, a_id: int, b_type: str, kind: AssociationType) -> None:
        for other_id, types in self._links.get((a_type, a_id, b_type), {}).items():
            if kind.type_id in types:
                types.discard(kind.type_id)
                self._links[(b_type, other_id, a_type)][a_id].discard(kind.inverse)

    @staticmethod
    def _default_type(a: str, b: str) -> int:
        try:
            return _DEFAULT_ASSOCIATION[(a, b)]
        except KeyError:
            raise _invalid(f"No default association from {a} to {b}") from None

    def _new_event(
        self, t: str, object_id: int, event_type: str, occurred_ms: int, properties: dict[str, Any]
    ) -> Event:
        props = {str(k): str(v) for k, v in properties.items() if v is not None}
        event = Event(self._next_event_seq, t, object_id, event_type, occurred_ms, props)
        self._next_event_seq += 1
        for index in (
            self._events,
            self._events_by_object.setdefault((t, object_id), []),
            self._events_by_type.setdefault(event_type, []),
            *self._views(event),
        ):
            bisect.insort(index, event, key=_event_key)
        return event

    def _new_email_only_event(
        self, email_type: str, created_ms: int, properties: dict[str, str], extra: dict[str, Any]
    ) -> Event:
        """An email event for an address that is no contact: an email event only."""
        event = Event(self._next_event_seq, "", 0, email_type, created_ms, properties, extra)
        self._next_event_seq += 1
        bisect.insort(self._email_events, event, key=_event_key)
        return event

    def _views(self, event: Event) -> list[list[Event]]:
        """The other indexes an event belongs to: its form's submissions, the email events."""
        if event.event_type == SUBMISSION_EVENT:
            form_id = event.properties.get("hs_form_id", "")
            return [self._submissions.setdefault(form_id, [])]
        if event.event_type in EMAIL_EVENT_TYPES:
            return [self._email_events]
        return []

    def _load_events(self, events: list[Event]) -> None:
        """Bulk-add events numbered from `_next_event_seq` (numbers may be skipped): one sort
        instead of N inserts."""
        self._next_event_seq = max((e.seq + 1 for e in events), default=self._next_event_seq)
        self._events.extend(events)
        self._events.sort(key=_event_key)
        self._events_by_object.clear()
        self._events_by_type.clear()
        self._submissions.clear()
        email_only = [e for e in self._email_events if not e.object_type]
        self._email_events = []
        for event in self._events:
            self._events_by_object.setdefault((event.object_type, event.object_id), []).append(
                event
            )
            self._events_by_type.setdefault(event.event_type, []).append(event)
            for view in self._views(event):
                view.append(event)
        if email_only:
            self._email_events = sorted([*self._email_events, *email_only], key=_event_key)

    def _event_id(self, seq: int) -> str:
        return f"{self._event_prefix}{seq:012x}"

    # -- lookups and validation ----------------------------------------------------------------

    @staticmethod
    def _value_at(obj: CrmObject, name: str, ms: int) -> str | None:
        """The value a property had at `ms`, from its history (the current one if never
        rewritten): what a form or an email saw at the time, not what the CRM holds now."""
        past = (obj.history or {}).get(name)
        if not past:
            return obj.properties.get(name)
        value: str | None = None
        for candidate, since, _ in past:
            if since > ms:
                break
            value = candidate or None
        return value

    def _lookup_properties(self, t: str) -> list[str]:
        custom = [
            d.name for d in self._properties[t].values() if d.has_unique_value and not d.read_only
        ]
        return [*_NATURAL_KEYS.get(t, ()), *custom]

    def _require(self, t: str, object_id: Any) -> CrmObject:
        obj = self._objects[t].get(int(object_id))
        if obj is None or obj.archived_ms is not None:
            raise _not_found(f"No {t} with id {object_id}")
        return obj

    def _lookup(
        self, t: str, ident: str, id_property: str | None, archived: bool = False
    ) -> CrmObject | None:
        """Find by id or by a unique property (`idProperty`), archived or live ones."""
        if id_property in (None, "", "hs_object_id"):
            oid = _object_id(ident)
        elif id_property in self._lookup_properties(t):
            oid = self._unique[t].get(id_property, {}).get(ident.lower())
        else:
            raise _invalid(f'Property "{id_property}" is not a unique identifier of {t}')
        obj = self._objects[t].get(oid) if oid is not None else None
        while obj is not None and obj.merged_into is not None:
            obj = self._objects[t].get(obj.merged_into)  # HubSpot redirects merged-away ids
        if obj is None or (obj.archived_ms is not None) != archived:
            return None
        return obj

    def _trusted_values(self, t: str, properties: dict[str, Any]) -> dict[str, str | None]:
        values: dict[str, str | None] = {}
        for name, raw in properties.items():
            defn = self._properties[t].get(name)
            if defn is None:
                raise _invalid(f'Property "{name}" does not exist')
            if defn.read_only:
                raise _invalid(f'Property "{name}" is read-only; pass created_at/updated_at')
            try:
                values[name] = _format_value(defn, raw)
            except ValueError:
                raise _invalid(f'"{raw}" is not a valid {defn.type} for "{name}"') from None
        return values

    def _validate_write(
        self, t: str, obj: CrmObject | None, properties: Any
    ) -> dict[str, str | None]:
        """HubSpot's checks for an API write; all problems are reported together."""
        if not isinstance(properties, dict):
            raise _invalid("`properties` must be an object")
        values: dict[str, str | None] = {}
        problems: list[dict[str, Any]] = []
        for name, raw in properties.items():
            try:
                values[name] = self._checked_value(t, obj, name, raw)
            except _InvalidValue as exc:
                problems.append(exc.detail)
        if problems:
            raise _invalid("; ".join(p["message"] for p in problems), problems)
        return values

    def _checked_value(self, t: str, obj: CrmObject | None, name: str, raw: Any) -> str | None:
        defn = self._properties[t].get(name)
        if defn is None:
            raise _InvalidValue("PROPERTY_DOESNT_EXIST", name, f'Property "{name}" does not exist')
        if defn.read_only:
            raise _InvalidValue(
                "READ_ONLY_VALUE", name, f'Property "{name}" is read-only and cannot be set'
            )
        try:
            value = _format_value(defn, raw)
        except ValueError:
            raise _InvalidValue(
                f"INVALID_{defn.type.upper()}",
                name,
                f'"{raw}" is not a valid {defn.type} value for "{name}"',
            ) from None
        if value is not None and defn.type == "enumeration":
            self._check_option(defn, value)
        if name == "lifecyclestage" and obj is not None:
            _check_lifecycle(obj.properties.get(name), value)
        return value

    def _check_option(self, defn: PropertyDef, value: str) -> None:
        if defn.referenced_object_type == "OWNER":
            allowed = [str(o.id) for o in self._owners.values() if not o.archived]
        else:
            allowed = [v for v, _ in defn.options]
        chosen = value.split(";") if defn.field_type == "checkbox" else [value]
        for choice in chosen:
            if choice not in allowed:
                raise _InvalidValue(
                    "INVALID_OPTION",
                    defn.name,
                    f'"{choice}" was not one of the allowed options for '
                    f'"{defn.name}": [{", ".join(allowed)}]',
                )

    def _check_unique(self, t: str, obj: CrmObject | None, values: dict[str, str | None]) -> None:
        for name in self._lookup_properties(t):
            value = values.get(name)
            holder = self._unique[t].get(name, {}).get(value.lower()) if value else None
            if holder is not None and (obj is None or holder != obj.id):
                raise ApiError(
                    409, "CONFLICT", f"{_SINGULAR[t].title()} already exists. Existing ID: {holder}"
                )

    def _names(self, t: str, requested: Iterable[str] | None) -> list[str]:
        """Properties to render: HubSpot's defaults, or the requested ones plus id/timestamps."""
        wanted = [n for n in requested or () if n]
        if not wanted:
            return list(DEFAULT_PROPERTIES.get(t, SYSTEM_DEFAULTS))
        defs = self._properties[t]
        return sorted(
            {
                *(n for n in wanted if n in defs),
                "hs_object_id",
                "createdate",
                _MODIFIED.get(t, "hs_lastmodifieddate"),
            }
        )
