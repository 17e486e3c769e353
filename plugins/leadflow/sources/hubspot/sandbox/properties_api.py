"""The Properties API: list and read definitions, create custom properties, archive them.

The definitions themselves are in ``properties.py``; this module is the endpoints over a
portal's definitions, including archiving (HubSpot's DELETE), which clears a property's values
without touching any record's modification date.
"""

from __future__ import annotations

from typing import Any

from leadflow.sources.hubspot.sandbox.properties import (
    _PROPERTY_NAME_RE,
    _PROPERTY_TYPES,
    PropertyDef,
)
from leadflow.sources.hubspot.sandbox.state import PortalState, _locked
from leadflow.sources.hubspot.sandbox.values import (
    ApiError,
    Reply,
    _invalid,
    _not_found,
    normalize_type,
)


class PropertiesApi(PortalState):
    """Endpoints under /crm/v3/properties/{type}."""

    @_locked
    def list_properties(self, object_type: str) -> Reply:
        t = normalize_type(object_type)
        return 200, {"results": [d.to_json() for d in self._properties[t].values()]}

    @_locked
    def get_property(self, object_type: str, name: str) -> Reply:
        defn = self._properties[normalize_type(object_type)].get(name)
        if defn is None:
            raise _not_found(f"Unable to find property {name}")
        return 200, defn.to_json()

    @_locked
    def create_property(self, object_type: str, body: Any) -> Reply:
        """A custom property (hubspotDefined false); 409 CONFLICT when the name is taken."""
        t = normalize_type(object_type)
        defn = self._property_from(body)
        if defn.name in self._properties[t]:
            raise ApiError(409, "CONFLICT", f"A property named '{defn.name}' already exists.")
        self._properties[t][defn.name] = defn
        self._version += 1
        return 201, defn.to_json()

    @_locked
    def archive_property(self, object_type: str, name: str) -> Reply:
        """Move a custom property to the recycling bin, as HubSpot's DELETE does.

        Its values disappear from every record without changing their modification dates (no
        record was edited), so a reader of changed records never hears of it; only the
        Properties API tells. HubSpot-defined properties cannot be archived.
        """
        t = normalize_type(object_type)
        defn = self._properties[t].get(name)
        if defn is None:
            raise _not_found(f"Unable to find property {name}")
        if defn.hubspot_defined:
            raise _invalid(f"{name} is a HubSpot-defined property and cannot be archived")
        unique = name in self._lookup_properties(t)
        del self._properties[t][name]
        for obj in self._objects[t].values():
            if name in obj.properties:
                if unique:
                    self._reindex(obj, name, None)
                del obj.properties[name]
        self._version += 1
        return 204, None

    def _property_from(self, body: Any) -> PropertyDef:
        if not isinstance(body, dict):
            raise _invalid("Request body must be an object")
        missing = [
            k
            for k in ("name", "label", "type", "fieldType", "groupName")
            if not isinstance(body.get(k), str) or not body[k]
        ]
        if missing:
            raise _invalid(f"Missing required fields: {', '.join(missing)}")
        if not _PROPERTY_NAME_RE.fullmatch(body["name"]):
            raise _invalid(
                f"Invalid property name {body['name']!r}: use lowercase letters, "
                "digits and underscores, starting with a letter"
            )
        if body["type"] not in _PROPERTY_TYPES:
            raise _invalid(f"Invalid type {body['type']!r}; one of {', '.join(_PROPERTY_TYPES)}")
        options = body.get("options") or []
        if not isinstance(options, list) or not all(
            isinstance(o, dict) and isinstance(o.get("value"), str) for o in options
        ):
            raise _invalid("options must be a list of {label, value} objects")
        return PropertyDef(
            body["name"],
            body["label"],
            body["type"],
            body["fieldType"],
            body["groupName"],
            str(body.get("description") or ""),
            [(o["value"], str(o.get("label") or o["value"])) for o in options],
            hubspot_defined=False,
            has_unique_value=bool(body.get("hasUniqueValue", False)),
            display_order=int(body.get("displayOrder", -1)),
            created_ms=self._now_ms(),
        )
