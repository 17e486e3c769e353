"""In-memory HubSpot portal: CRM objects, property definitions, owners, associations, events.

The portal implements HubSpot's API semantics (cursor paging, search, batch writes and their
validation) without any HTTP, so ``server.py`` only parses requests and renders replies, and tests
can seed state directly. Times are kept as epoch milliseconds and rendered the way HubSpot renders
them (ISO-8601 with milliseconds and ``Z``). Every public method takes ``Portal.lock``, so the
server threads and test helpers can share one portal safely.

This module composes :class:`Portal` and holds its trusted test helpers. The state and the
internal operations every endpoint shares are in ``state.py``, the endpoints by resource in
``objects.py``, ``search.py``, ``properties_api.py``, ``schemas.py``, ``owners.py``,
``associations.py``, ``events.py``, ``forms.py``, ``email_events.py`` and ``lists.py``, the shared
vocabulary in ``values.py``, ``properties.py`` and ``records.py``, and the generator behind
:meth:`Portal.generate` in ``synthetic.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from leadflow.sources.hubspot.sandbox.associations import AssociationsApi
from leadflow.sources.hubspot.sandbox.email_events import EmailEventsApi
from leadflow.sources.hubspot.sandbox.events import EventsApi
from leadflow.sources.hubspot.sandbox.forms import FormsApi
from leadflow.sources.hubspot.sandbox.lists import ListsApi
from leadflow.sources.hubspot.sandbox.objects import ObjectsApi
from leadflow.sources.hubspot.sandbox.owners import OwnersApi
from leadflow.sources.hubspot.sandbox.properties_api import PropertiesApi
from leadflow.sources.hubspot.sandbox.records import Owner
from leadflow.sources.hubspot.sandbox.schemas import SchemasApi
from leadflow.sources.hubspot.sandbox.search import SearchApi
from leadflow.sources.hubspot.sandbox.state import _locked
from leadflow.sources.hubspot.sandbox.synthetic import _Generator
from leadflow.sources.hubspot.sandbox.values import _not_found, normalize_type, parse_ms, to_ms


class Portal(
    ObjectsApi,
    SearchApi,
    PropertiesApi,
    SchemasApi,
    OwnersApi,
    AssociationsApi,
    EventsApi,
    FormsApi,
    EmailEventsApi,
    ListsApi,
):
    """One HubSpot account's CRM state plus HubSpot's API semantics over it.

    Test helpers (``add_contact``, ``update_object``, ``associate`` ...) are trusted writes, like
    edits in HubSpot's UI: they check property names and value formats but not option lists or
    the lifecycle rule. API methods (``list_objects``, ``search``, ``batch_update`` ...) validate
    like HubSpot and return ``(http_status, json_body)`` or raise :class:`ApiError`.
    """

    @classmethod
    def generate(cls, seed: int = 42, contacts: int = 5000, now: datetime | None = None) -> Portal:
        """A realistic synthetic portal, identical for identical (seed, contacts, now).

        Without `now` the wall clock is used, which is the only non-deterministic input.
        """
        portal = cls()
        _Generator(portal, seed, contacts, to_ms(now or datetime.now(UTC))).run()
        return portal

    def log_request(self, method: str, path: str, status: int) -> None:
        """Record one served request (path without query string) for test assertions."""
        with self._log_lock:
            self.request_log.append((method, path, status))

    # -- trusted helpers -----------------------------------------------------------------------

    @_locked
    def add_contact(
        self,
        properties: dict[str, Any],
        created_at: datetime | None = None,
        updated_at: datetime | None = None,
    ) -> int:
        return self._add("contacts", properties, created_at, updated_at)

    @_locked
    def add_company(
        self,
        properties: dict[str, Any],
        created_at: datetime | None = None,
        updated_at: datetime | None = None,
    ) -> int:
        return self._add("companies", properties, created_at, updated_at)

    @_locked
    def add_deal(
        self,
        properties: dict[str, Any],
        created_at: datetime | None = None,
        updated_at: datetime | None = None,
    ) -> int:
        return self._add("deals", properties, created_at, updated_at)

    def _add(
        self,
        object_type: str,
        properties: dict[str, Any],
        created_at: datetime | None,
        updated_at: datetime | None,
    ) -> int:
        """Defaults keep createdAt <= updatedAt: something last modified an hour ago was created
        no later than that; something created in the past was last modified then."""
        now = self._now_ms()
        updated = to_ms(updated_at) if updated_at else None
        created = to_ms(created_at) if created_at else now if updated is None else min(now, updated)
        values = self._trusted_values(object_type, properties)
        self._check_unique(object_type, None, values)
        obj = self._insert(object_type, values, created, created if updated is None else updated)
        return obj.id

    @_locked
    def update_object(
        self,
        object_type: str,
        id: int,
        properties: dict[str, Any],
        updated_at: datetime | None = None,
    ) -> None:
        """Trusted edit; bumps updatedAt to `updated_at` or the portal clock."""
        t = normalize_type(object_type)
        obj = self._require(t, id)
        values = self._trusted_values(t, properties)
        self._check_unique(t, obj, values)
        self._write(obj, values, to_ms(updated_at) if updated_at else self._now_ms())

    @_locked
    def archive_object(self, object_type: str, id: int) -> None:
        t = normalize_type(object_type)
        self._archive(self._require(t, id))

    @_locked
    def get_object(self, object_type: str, id: int) -> dict[str, Any]:
        """Full HubSpot JSON of an object (archived ones too), all set properties included."""
        t = normalize_type(object_type)
        obj = self._objects[t].get(int(id))
        if obj is None:
            raise _not_found(f"No {t} with id {id}")
        return obj.to_json()

    @_locked
    def associate(
        self, from_type: str, from_id: int, to_type: str, to_id: int, type_id: int | None = None
    ) -> None:
        """Link two objects both ways; `type_id` defaults to the unlabeled association."""
        a, b = normalize_type(from_type), normalize_type(to_type)
        self._require(a, from_id)
        self._require(b, to_id)
        self._link(a, int(from_id), b, int(to_id), type_id or self._default_type(a, b))

    @_locked
    def add_owner(
        self,
        email: str,
        first_name: str,
        last_name: str,
        *,
        archived: bool = False,
        teams: list[dict[str, Any]] | None = None,
        created_at: datetime | None = None,
    ) -> int:
        owner_id = self._next_owner_id
        self._next_owner_id += 1
        created = to_ms(created_at) if created_at else self._now_ms()
        self._owners[owner_id] = Owner(
            owner_id,
            email.lower(),
            first_name,
            last_name,
            9_000_000 + owner_id,
            created,
            archived,
            teams or [],
        )
        return owner_id

    @_locked
    def add_event(
        self,
        event_type: str,
        object_id: int,
        occurred_at: datetime | str | int,
        properties: dict[str, Any] | None = None,
        *,
        object_type: str = "contacts",
    ) -> str:
        t = normalize_type(object_type)
        self._require(t, object_id)
        event = self._new_event(
            t, int(object_id), event_type, parse_ms(occurred_at), properties or {}
        )
        return self._event_id(event.seq)
