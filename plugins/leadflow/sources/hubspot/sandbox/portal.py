"""In-memory HubSpot portal: CRM objects, property definitions, owners, associations, events.

The portal implements HubSpot's API semantics (cursor paging, search, batch writes and their
validation) without any HTTP, so ``server.py`` only parses requests and renders replies, and tests
can seed state directly. Times are kept as epoch milliseconds and rendered the way HubSpot renders
them (ISO-8601 with milliseconds and ``Z``). Every public method takes ``Portal.lock``, so the
server threads and test helpers can share one portal safely.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import fnmatch
import functools
import json
import math
import operator
import random
import re
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar

OBJECT_TYPES = ("contacts", "companies", "deals")
_TYPE_ALIASES = {
    **{alias: "contacts" for alias in ("contact", "contacts", "0-1")},
    **{alias: "companies" for alias in ("company", "companies", "0-2")},
    **{alias: "deals" for alias in ("deal", "deals", "0-3")},
}
_SINGULAR = {"contacts": "CONTACT", "companies": "COMPANY", "deals": "DEAL"}
# Distinct id ranges per type make a company id used as a contact id fail loudly in tests.
_FIRST_ID = {"contacts": 1, "companies": 1_000_001, "deals": 2_000_001}
_MODIFIED = {
    "contacts": "lastmodifieddate",
    "companies": "hs_lastmodifieddate",
    "deals": "hs_lastmodifieddate",
}
DEFAULT_PROPERTIES = {
    "contacts": (
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    ),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "deals": (
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ),
}
# Free-text `query` in search matches these, like HubSpot's default searchable properties.
_QUERY_PROPERTIES = {
    "contacts": ("firstname", "lastname", "email", "phone", "company"),
    "companies": ("name", "domain"),
    "deals": ("dealname",),
}
# Properties that identify a record besides hs_object_id (idProperty in batch calls).
_NATURAL_KEYS = {"contacts": ("email",), "companies": (), "deals": ()}
LIFECYCLE_STAGES = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)
_STAGE_RANK = {stage: rank for rank, stage in enumerate(LIFECYCLE_STAGES)}

MAX_PAGE = 100
MAX_BATCH = 100
MAX_SEARCH_PAGE = 200
SEARCH_RESULT_CAP = 10_000
MAX_FILTER_GROUPS = 5
MAX_FILTERS_PER_GROUP = 6
MAX_FILTERS = 18
MAX_ASSOCIATION_BATCH = 1000
MAX_ASSOCIATION_PAGE = 500
MAX_OWNER_PAGE = 500
MAX_EVENT_PAGE = 1000

Reply = tuple[int, Any]
_P = ParamSpec("_P")
_R = TypeVar("_R")


# -- errors ------------------------------------------------------------------------------------


class ApiError(Exception):
    """A HubSpot error: the server renders it as HubSpot's JSON error body with `status`."""

    def __init__(
        self, status: int, category: str, message: str, errors: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.category = category
        self.message = message
        self.errors = errors or []


def _invalid(message: str, errors: list[dict[str, Any]] | None = None) -> ApiError:
    return ApiError(400, "VALIDATION_ERROR", message, errors)


def _not_found(message: str) -> ApiError:
    return ApiError(404, "OBJECT_NOT_FOUND", message)


class _InvalidValue(Exception):
    """One property value rejected by validation; becomes an entry of the error's `errors`."""

    def __init__(self, code: str, name: str, message: str) -> None:
        super().__init__(message)
        self.detail = {"message": message, "code": code, "context": {"propertyName": [name]}}


def normalize_type(name: str) -> str:
    """Canonical plural object type for "contact", "contacts" or "0-1" (and so on)."""
    try:
        return _TYPE_ALIASES[name.lower()]
    except KeyError:
        raise _invalid(f"Unable to infer object type from: {name}") from None


# -- time --------------------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_MS = 86_400_000
_INT_RE = re.compile(r"-?\d+")


def to_ms(moment: datetime) -> int:
    """Epoch milliseconds; naive datetimes are taken as UTC, as HubSpot does."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def iso(ms: int) -> str:
    """HubSpot's timestamp rendering: 2026-11-01T10:00:00.000Z."""
    moment = _EPOCH + timedelta(milliseconds=ms)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


@functools.lru_cache(maxsize=1 << 18)
def _parse_text_ms(text: str) -> int:
    # Cached: search compares the same stored timestamps on every page of a query.
    if _INT_RE.fullmatch(text):
        return int(text)
    return to_ms(datetime.fromisoformat(text))


def parse_ms(value: object) -> int:
    """Epoch ms from a datetime/date, an epoch-ms number or string, or ISO-8601 text."""
    if isinstance(value, datetime):
        return to_ms(value)
    if isinstance(value, date):
        return to_ms(datetime(value.year, value.month, value.day, tzinfo=UTC))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        return _parse_text_ms(value.strip())
    raise ValueError(f"not a timestamp: {value!r}")


# -- property definitions ----------------------------------------------------------------------

_DEFINED_AT_MS = to_ms(datetime(2019, 8, 6, 2, 41, 52, tzinfo=UTC))
_PROPERTY_TYPES = ("string", "number", "date", "datetime", "enumeration", "bool")
_PROPERTY_NAME_RE = re.compile(r"[a-z][a-z0-9_]*")


@dataclass
class PropertyDef:
    """One property definition; `options` are (value, label) pairs in display order."""

    name: str
    label: str
    type: str = "string"
    field_type: str = "text"
    group_name: str = "contactinformation"
    description: str = ""
    options: list[tuple[str, str]] = field(default_factory=list)
    read_only: bool = False
    hubspot_defined: bool = True
    has_unique_value: bool = False
    referenced_object_type: str | None = None
    display_order: int = -1
    created_ms: int = _DEFINED_AT_MS

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "description": self.description,
            "groupName": self.group_name,
            "options": [
                {"label": label, "value": value, "displayOrder": order, "hidden": False}
                for order, (value, label) in enumerate(self.options)
            ],
            "displayOrder": self.display_order,
            "calculated": False,
            "externalOptions": self.referenced_object_type is not None,
            "hasUniqueValue": self.has_unique_value,
            "hidden": False,
            "hubspotDefined": self.hubspot_defined,
            "modificationMetadata": {
                "archivable": not self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.read_only,
            },
            "formField": not self.read_only,
            "createdAt": iso(self.created_ms),
            "updatedAt": iso(self.created_ms),
            "archived": False,
        }
        if self.referenced_object_type:
            body["referencedObjectType"] = self.referenced_object_type
        return body


def _options(*values: str, labels: Iterable[str] | None = None) -> list[tuple[str, str]]:
    names = list(labels) if labels else [v.replace("_", " ").title() for v in values]
    return list(zip(values, names, strict=True))


INDUSTRIES = (
    "COMPUTER_SOFTWARE",
    "INFORMATION_TECHNOLOGY_AND_SERVICES",
    "INTERNET",
    "MARKETING_AND_ADVERTISING",
    "FINANCIAL_SERVICES",
    "HOSPITAL_HEALTH_CARE",
    "RETAIL",
    "EDUCATION_MANAGEMENT",
    "HIGHER_EDUCATION",
    "MANUFACTURING",
    "TELECOMMUNICATIONS",
    "NON_PROFIT_ORGANIZATION_MANAGEMENT",
    "CONSTRUCTION",
    "LOGISTICS_AND_SUPPLY_CHAIN",
    "ACCOUNTING",
    "BANKING",
    "INSURANCE",
    "REAL_ESTATE",
    "MANAGEMENT_CONSULTING",
    "HUMAN_RESOURCES",
)
LEAD_STATUSES = (
    "NEW",
    "OPEN",
    "IN_PROGRESS",
    "OPEN_DEAL",
    "UNQUALIFIED",
    "ATTEMPTED_TO_CONTACT",
    "CONNECTED",
    "BAD_TIMING",
)
ANALYTICS_SOURCES = (
    "ORGANIC_SEARCH",
    "PAID_SEARCH",
    "DIRECT_TRAFFIC",
    "REFERRALS",
    "SOCIAL_MEDIA",
    "EMAIL_MARKETING",
    "OTHER_CAMPAIGNS",
    "OFFLINE",
)
DEAL_STAGES = (
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
    "closedwon",
    "closedlost",
)


def _system_properties(group: str, contact: bool) -> list[PropertyDef]:
    """The read-only properties every object carries, mirroring id and timestamps."""
    stamps = [("createdate", "Create Date"), ("hs_lastmodifieddate", "Object last modified")]
    if contact:
        stamps.append(("lastmodifieddate", "Last Modified Date"))
    return [
        *(
            PropertyDef(name, label, "datetime", "date", group, read_only=True)
            for name, label in stamps
        ),
        PropertyDef(
            "hs_object_id",
            "Record ID",
            "number",
            "number",
            group,
            read_only=True,
            has_unique_value=True,
        ),
    ]


def _owner_property(group: str) -> PropertyDef:
    return PropertyDef(
        "hubspot_owner_id", "Owner", "enumeration", "select", group, referenced_object_type="OWNER"
    )


def _contact_properties() -> list[PropertyDef]:
    group = "contactinformation"
    bant = [
        PropertyDef(
            f"bant_{part}",
            f"BANT {part.title()}",
            "enumeration",
            "select",
            "bant",
            f"Sales-confirmed {part} criterion",
            _options("yes", "no"),
            hubspot_defined=False,
        )
        for part in ("budget", "authority", "need", "timeframe")
    ]
    stage_labels = (
        "Subscriber",
        "Lead",
        "Marketing Qualified Lead",
        "Sales Qualified Lead",
        "Opportunity",
        "Customer",
        "Evangelist",
        "Other",
    )
    return [
        PropertyDef("email", "Email"),
        PropertyDef("firstname", "First Name"),
        PropertyDef("lastname", "Last Name"),
        PropertyDef("jobtitle", "Job Title"),
        PropertyDef("phone", "Phone Number", field_type="phonenumber"),
        PropertyDef("country", "Country/Region"),
        PropertyDef("city", "City"),
        PropertyDef("company", "Company Name"),
        PropertyDef("website", "Website URL"),
        PropertyDef(
            "lifecyclestage",
            "Lifecycle Stage",
            "enumeration",
            "radio",
            group,
            "The qualification stage; HubSpot only lets it move forward",
            _options(*LIFECYCLE_STAGES, labels=stage_labels),
        ),
        PropertyDef(
            "hs_lead_status",
            "Lead Status",
            "enumeration",
            "radio",
            group,
            options=_options(*LEAD_STATUSES),
        ),
        _owner_property(group),
        PropertyDef(
            "hs_analytics_source",
            "Original Source",
            "enumeration",
            "select",
            "analyticsinformation",
            options=_options(*ANALYTICS_SOURCES),
        ),
        PropertyDef("associatedcompanyid", "Primary Associated Company ID", "number", "number"),
        *_system_properties(group, contact=True),
        PropertyDef(
            "hs_merged_object_ids",
            "Merged Contact IDs",
            "enumeration",
            "checkbox",
            group,
            "Ids of the contacts merged into this one",
            read_only=True,
        ),
        *bant,
    ]


def _company_properties() -> list[PropertyDef]:
    group = "companyinformation"
    return [
        PropertyDef("name", "Company name", group_name=group),
        PropertyDef("domain", "Company Domain Name", group_name=group),
        PropertyDef(
            "industry", "Industry", "enumeration", "select", group, options=_options(*INDUSTRIES)
        ),
        PropertyDef("numberofemployees", "Number of Employees", "number", "number", group),
        PropertyDef("annualrevenue", "Annual Revenue", "number", "number", group),
        PropertyDef("country", "Country/Region", group_name=group),
        PropertyDef("city", "City", group_name=group),
        *_system_properties(group, contact=False),
    ]


def _deal_properties() -> list[PropertyDef]:
    group = "dealinformation"
    return [
        PropertyDef("dealname", "Deal Name", group_name=group),
        PropertyDef("amount", "Amount", "number", "number", group),
        PropertyDef(
            "dealstage",
            "Deal Stage",
            "enumeration",
            "radio",
            group,
            options=_options(
                *DEAL_STAGES,
                labels=(
                    "Appointment Scheduled",
                    "Qualified To Buy",
                    "Presentation Scheduled",
                    "Decision Maker Bought-In",
                    "Contract Sent",
                    "Closed Won",
                    "Closed Lost",
                ),
            ),
        ),
        PropertyDef(
            "pipeline",
            "Pipeline",
            "enumeration",
            "select",
            group,
            options=_options("default", labels=["Sales Pipeline"]),
        ),
        PropertyDef("closedate", "Close Date", "datetime", "date", group),
        _owner_property(group),
        *_system_properties(group, contact=False),
    ]


def _default_properties() -> dict[str, dict[str, PropertyDef]]:
    tables = {
        "contacts": _contact_properties(),
        "companies": _company_properties(),
        "deals": _deal_properties(),
    }
    return {t: {d.name: d for d in defs} for t, defs in tables.items()}


def _format_value(defn: PropertyDef, raw: Any) -> str | None:
    """The string HubSpot stores for `raw` (None clears); ValueError when it is malformed."""
    if raw is None or raw == "":
        return None
    if defn.type in ("datetime", "date"):
        rendered = iso(parse_ms(raw))
        return rendered if defn.type == "datetime" else rendered[:10]
    text = ("true" if raw else "false") if isinstance(raw, bool) else str(raw)
    if defn.type == "number" and not math.isfinite(float(text)):
        raise ValueError(text)
    if defn.type == "bool" and text.lower() not in ("true", "false"):
        raise ValueError(text)
    # HubSpot lowercases emails; booleans are canonical lowercase.
    return text.lower() if defn.name == "email" or defn.type == "bool" else text


# -- records -----------------------------------------------------------------------------------


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


# -- search ------------------------------------------------------------------------------------

_Row = dict[str, str]
_Predicate = Callable[[_Row], bool]
_ORDERING = {
    "EQ": operator.eq,
    "NEQ": operator.ne,
    "LT": operator.lt,
    "LTE": operator.le,
    "GT": operator.gt,
    "GTE": operator.ge,
}
_TOKEN_SPLIT = re.compile(r"[\s@,;:/]+")


def _comparable(defn: PropertyDef) -> Callable[[str], Any]:
    """How values of a property compare: numerically, as instants, or case-insensitively."""
    if defn.type == "number":
        return float
    if defn.type in ("datetime", "date"):
        return parse_ms
    return str.lower


def _contains_token(raw: str | None, pattern: str) -> bool:
    """HubSpot-ish token match: whole value or any word of it; `*` is a wildcard."""
    if raw is None:
        return False
    text = raw.lower()
    candidates = [text, *_TOKEN_SPLIT.split(text)]
    if "*" in pattern:
        return any(fnmatch.fnmatchcase(c, pattern) for c in candidates)
    return pattern in candidates


def _filter_operand(spec: dict[str, Any], key: str, convert: Callable[[str], Any]) -> Any:
    if key not in spec or spec[key] is None:
        raise _invalid(
            f"Filter on {spec.get('propertyName')} with operator "
            f"{spec.get('operator')} requires `{key}`"
        )
    try:
        return convert(str(spec[key]))
    except ValueError:
        raise _invalid(
            f'"{spec[key]}" is not a valid value for property "{spec.get("propertyName")}"'
        ) from None


def _compile_filter(defs: dict[str, PropertyDef], spec: Any) -> _Predicate:
    """One filter as a predicate over an object's properties."""
    if not isinstance(spec, dict):
        raise _invalid("Each filter must be an object")
    name, op = spec.get("propertyName"), str(spec.get("operator", "")).upper()
    defn = defs.get(name) if isinstance(name, str) else None
    if defn is None:
        raise _invalid(f'Property "{name}" does not exist')
    convert = _comparable(defn)

    def stored(row: _Row) -> Any:
        raw = row.get(name)
        return None if raw is None else convert(raw)

    if op in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        wanted = op == "HAS_PROPERTY"
        return lambda row: (name in row) is wanted
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        pattern = _filter_operand(spec, "value", str.lower)
        wanted = op == "CONTAINS_TOKEN"
        return lambda row: _contains_token(row.get(name), pattern) is wanted
    if op in ("IN", "NOT_IN"):
        values = spec.get("values")
        if not isinstance(values, list):
            raise _invalid(f"Operator {op} requires `values` (a list)")
        targets = {_filter_operand({**spec, "value": v}, "value", convert) for v in values}
        if op == "IN":
            return lambda row: (v := stored(row)) is not None and v in targets
        return lambda row: (v := stored(row)) is None or v not in targets
    if op == "BETWEEN":
        low = _filter_operand(spec, "value", convert)
        high = _filter_operand(spec, "highValue", convert)
        return lambda row: (v := stored(row)) is not None and low <= v <= high
    if op in _ORDERING:
        target, compare = _filter_operand(spec, "value", convert), _ORDERING[op]
        if op == "NEQ":
            return lambda row: (v := stored(row)) is None or v != target
        return lambda row: (v := stored(row)) is not None and compare(v, target)
    raise _invalid(f"Unknown filter operator: {op}")


def _compile_groups(defs: dict[str, PropertyDef], groups: Any) -> _Predicate | None:
    """OR of filter groups, AND within a group, under HubSpot's documented size limits."""
    if not isinstance(groups, list):
        raise _invalid("filterGroups must be a list")
    if len(groups) > MAX_FILTER_GROUPS:
        raise _invalid(
            f"Too many filter groups ({len(groups)}); the maximum is {MAX_FILTER_GROUPS}"
        )
    compiled: list[list[_Predicate]] = []
    for group in groups:
        filters = group.get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list) or not filters:
            raise _invalid("Each filter group needs a non-empty `filters` list")
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise _invalid(
                f"Too many filters in a group ({len(filters)}); "
                f"the maximum is {MAX_FILTERS_PER_GROUP}"
            )
        compiled.append([_compile_filter(defs, spec) for spec in filters])
    total = sum(len(group) for group in compiled)
    if total > MAX_FILTERS:
        raise _invalid(f"Too many filters ({total}); the maximum is {MAX_FILTERS} in total")
    if not compiled:
        return None
    return lambda row: any(all(test(row) for test in group) for group in compiled)


def _sort_spec(defs: dict[str, PropertyDef], sorts: Any) -> tuple[str, bool] | None:
    """(property, descending) from `[{"propertyName", "direction"}]` or `["-prop"]`."""
    if not sorts:
        return None
    if not isinstance(sorts, list) or len(sorts) > 1:
        raise _invalid("sorts must be a list with at most one sort")
    item = sorts[0]
    if isinstance(item, str):
        name, descending = item.lstrip("-"), item.startswith("-")
    elif isinstance(item, dict):
        name = item.get("propertyName")
        direction = str(item.get("direction", "ASCENDING")).upper()
        if direction not in ("ASCENDING", "DESCENDING"):
            raise _invalid(f"Unknown sort direction: {direction}")
        descending = direction == "DESCENDING"
    else:
        raise _invalid("Each sort must be a string or an object")
    if name not in defs:
        raise _invalid(f'Cannot sort by "{name}": property does not exist')
    return name, descending


def _sorted(rows: list[CrmObject], defn: PropertyDef, descending: bool) -> list[CrmObject]:
    """Stable sort on one property (ties stay in id order); records without it go last."""
    name, convert = defn.name, _comparable(defn)
    present = [o for o in rows if name in o.properties]
    missing = [o for o in rows if name not in o.properties]
    present.sort(key=lambda o: convert(o.properties[name]), reverse=descending)
    return present + missing


def _offset(after: Any) -> int:
    """Search's `after` is a stringified offset."""
    if after in (None, ""):
        return 0
    try:
        value = int(str(after))
    except ValueError:
        raise _invalid(f"Invalid `after` value: {after!r}") from None
    if value < 0:
        raise _invalid(f"Invalid `after` value: {after!r}")
    return value


def _check_limit(limit: int, maximum: int, minimum: int = 1) -> None:
    if not minimum <= limit <= maximum:
        raise _invalid(f"limit must be between {minimum} and {maximum}; got {limit}")


def _inputs(body: Any, maximum: int) -> list[dict[str, Any]]:
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list) or not all(isinstance(item, dict) for item in inputs):
        raise _invalid("Request body needs `inputs`, a list of objects")
    if len(inputs) > maximum:
        raise _invalid(f"Too many inputs ({len(inputs)}); a batch takes at most {maximum}")
    return inputs


def _record_error(err: ApiError, key: str, idents: list[str]) -> dict[str, Any]:
    return {
        "status": "error",
        "category": err.category,
        "message": err.message,
        "context": {key: idents},
        "errors": err.errors,
        "links": {},
    }


def _encode_cursor(*parts: int) -> str:
    text = ".".join(str(p) for p in parts)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_cursor(after: str | None, size: int) -> tuple[int, ...] | None:
    if not after:
        return None
    try:
        text = base64.urlsafe_b64decode(after + "=" * (-len(after) % 4)).decode()
        parts = tuple(int(p) for p in text.split("."))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        parts = ()
    if len(parts) != size:
        raise _invalid(f"Invalid `after` cursor: {after!r}")
    return parts


def _object_id(raw: Any) -> int | None:
    text = str(raw).strip()
    return int(text) if text.isdigit() else None


def _locked(method: Callable[Concatenate[Portal, _P], _R]) -> Callable[Concatenate[Portal, _P], _R]:
    """Run a Portal method under the portal's lock (re-entrant, so methods may nest)."""

    @functools.wraps(method)
    def wrapper(self: Portal, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self.lock:
            return method(self, *args, **kwargs)

    return wrapper


# -- the portal --------------------------------------------------------------------------------


class Portal:
    """One HubSpot account's CRM state plus HubSpot's API semantics over it.

    Test helpers (``add_contact``, ``update_object``, ``associate`` ...) are trusted writes, like
    edits in HubSpot's UI: they check property names and value formats but not option lists or
    the lifecycle rule. API methods (``list_objects``, ``search``, ``batch_update`` ...) validate
    like HubSpot and return ``(http_status, json_body)`` or raise :class:`ApiError`.
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
        self._event_prefix = "00000000-0000-4000-8000-"
        self._version = 0
        self._search_cache: dict[str, tuple[int, list[int]]] = {}

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

    def _now_ms(self) -> int:
        return to_ms(self.clock())

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

    def _write(self, obj: CrmObject, values: dict[str, str | None], updated: int) -> None:
        lookups = self._lookup_properties(obj.type)
        for name, value in values.items():
            if name in lookups:
                self._reindex(obj, name, value)
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
        ):
            bisect.insort(index, event, key=_event_key)
        return event

    def _load_events(self, events: list[Event]) -> None:
        """Bulk-add events numbered from `_next_event_seq`: one sort instead of N inserts."""
        self._next_event_seq += len(events)
        self._events.extend(events)
        self._events.sort(key=_event_key)
        self._events_by_object.clear()
        self._events_by_type.clear()
        for event in self._events:
            self._events_by_object.setdefault((event.object_type, event.object_id), []).append(
                event
            )
            self._events_by_type.setdefault(event.event_type, []).append(event)

    def _event_id(self, seq: int) -> str:
        return f"{self._event_prefix}{seq:012x}"

    # -- lookups and validation ----------------------------------------------------------------

    def _lookup_properties(self, t: str) -> list[str]:
        custom = [
            d.name for d in self._properties[t].values() if d.has_unique_value and not d.read_only
        ]
        return [*_NATURAL_KEYS[t], *custom]

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
            return list(DEFAULT_PROPERTIES[t])
        defs = self._properties[t]
        return sorted(
            {*(n for n in wanted if n in defs), "hs_object_id", "createdate", _MODIFIED[t]}
        )

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
    ) -> Reply:
        """Id-ordered page; the cursor is the id the next page starts at."""
        t = normalize_type(object_type)
        _check_limit(limit, MAX_PAGE)
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
        body: dict[str, Any] = {"results": [o.to_json(names) for o in page[:limit]]}
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
    ) -> Reply:
        t = normalize_type(object_type)
        obj = self._lookup(t, object_id, id_property, archived)
        if obj is None:
            raise _not_found(f"Object not found. objectId are usually numeric. ({object_id})")
        return 200, obj.to_json(self._names(t, properties))

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

    # -- search --------------------------------------------------------------------------------

    @_locked
    def search(self, object_type: str, body: Any) -> Reply:
        """POST .../search: filters, one sort, offset paging capped at 10,000 results."""
        t = normalize_type(object_type)
        if not isinstance(body, dict):
            raise _invalid("Request body must be an object")
        limit = body.get("limit", 10)
        if not isinstance(limit, int) or isinstance(limit, bool):
            raise _invalid(f"limit must be an integer; got {limit!r}")
        _check_limit(limit, MAX_SEARCH_PAGE, minimum=0)
        after = _offset(body.get("after"))
        if after >= SEARCH_RESULT_CAP:
            raise _invalid(
                f"Paging offset {after} is over the search limit: a search query "
                f"returns at most {SEARCH_RESULT_CAP} results. Narrow the filters "
                "(e.g. hs_object_id GT the last id seen) and search again."
            )
        ids = self._search_ids(
            t, body.get("filterGroups") or [], body.get("sorts"), body.get("query")
        )
        names = self._names(t, body.get("properties"))
        objects = self._objects[t]
        page = ids[after : after + limit]
        result: dict[str, Any] = {
            "total": len(ids),
            "results": [objects[i].to_json(names) for i in page],
        }
        if after + limit < len(ids) and limit:
            result["paging"] = {"next": {"after": str(after + limit)}}
        return 200, result

    def _search_ids(self, t: str, groups: Any, sorts: Any, query: Any) -> list[int]:
        """Matching ids in result order, cached per query until the next write."""
        key = json.dumps([t, groups, sorts, query], sort_keys=True, default=str)
        cached = self._search_cache.get(key)
        if cached is not None and cached[0] == self._version:
            return cached[1]
        defs = self._properties[t]
        matches = _compile_groups(defs, groups)
        sort = _sort_spec(defs, sorts)
        needle = str(query).lower() if query else None
        rows = [
            o
            for o in self._objects[t].values()
            if o.archived_ms is None
            and (matches is None or matches(o.properties))
            and (needle is None or self._matches_query(o, needle))
        ]
        if sort is not None:
            rows = _sorted(rows, defs[sort[0]], sort[1])
        ids = [o.id for o in rows]
        if len(self._search_cache) >= 32:
            self._search_cache.pop(next(iter(self._search_cache)))
        self._search_cache[key] = (self._version, ids)
        return ids

    @staticmethod
    def _matches_query(obj: CrmObject, needle: str) -> bool:
        return any(
            needle in obj.properties.get(name, "").lower() for name in _QUERY_PROPERTIES[obj.type]
        )

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
        results, failures = [], []
        for item in inputs:
            ident = str(item.get("id", ""))
            obj = self._lookup(t, ident, id_property)
            if obj is None:
                failures.append((ident, _not_found(ident)))
            else:
                results.append(obj.to_json(names))
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

    # -- properties ----------------------------------------------------------------------------

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

    # -- owners --------------------------------------------------------------------------------

    @_locked
    def list_owners(
        self,
        *,
        limit: int = 100,
        after: str | None = None,
        archived: bool = False,
        email: str | None = None,
    ) -> Reply:
        _check_limit(limit, MAX_OWNER_PAGE)
        start = _offset(after)
        owners = [
            o
            for o in self._owners.values()
            if o.archived == archived
            and o.id >= start
            and (email is None or o.email == email.lower())
        ]
        body: dict[str, Any] = {"results": [o.to_json() for o in owners[:limit]]}
        if len(owners) > limit:
            body["paging"] = {"next": {"after": str(owners[limit].id)}}
        return 200, body

    @_locked
    def get_owner(self, owner_id: str) -> Reply:
        owner = self._owners.get(_object_id(owner_id) or 0)
        if owner is None:
            raise _not_found(f"No owner with id {owner_id}")
        return 200, owner.to_json()

    # -- associations --------------------------------------------------------------------------

    def _targets(self, a: str, a_id: int, b: str) -> list[dict[str, Any]]:
        """v4 association rows to live objects, ordered by target id."""
        live = self._objects[b]
        return [
            {"toObjectId": b_id, "associationTypes": [_association_json(k) for k in sorted(kinds)]}
            for b_id, kinds in sorted(self._links.get((a, a_id, b), {}).items())
            if kinds and live[b_id].archived_ms is None
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

    # -- events --------------------------------------------------------------------------------

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


def _maybe_inject(inject_failure: Callable[[], bool] | None) -> None:
    if inject_failure is not None and inject_failure():
        raise _invalid("injected failure")


def _check_lifecycle(current: str | None, new: str | None) -> None:
    """HubSpot's rule: lifecyclestage only moves forward unless it was cleared first."""
    if current and new and _STAGE_RANK[new] < _STAGE_RANK.get(current, -1):
        raise _InvalidValue(
            "INVALID_LIFECYCLE_STAGE",
            "lifecyclestage",
            f'"lifecyclestage" cannot move backward from "{current}" to "{new}"; '
            'clear it first by setting it to ""',
        )


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


# -- synthetic portal --------------------------------------------------------------------------

_FIRST_NAMES = (
    "James",
    "Mary",
    "Liam",
    "Emma",
    "Noah",
    "Olivia",
    "Lucas",
    "Sophie",
    "Mateo",
    "Isabella",
    "Arjun",
    "Priya",
    "Wei",
    "Mei",
    "Hiroshi",
    "Yuki",
    "Lars",
    "Anna",
    "Pierre",
    "Camille",
    "Hans",
    "Lena",
    "Jan",
    "Eva",
    "Diego",
    "Lucia",
    "Ahmed",
    "Fatima",
    "Omar",
    "Leila",
    "Raj",
    "Ananya",
    "Tom",
    "Chloe",
    "Daniel",
    "Grace",
    "Felix",
    "Mia",
    "Jonas",
    "Hannah",
    "Carlos",
    "Sofia",
    "Ethan",
    "Ava",
    "Oliver",
    "Amelia",
    "Rafael",
    "Beatriz",
    "Sanjay",
    "Kavya",
    "Sven",
    "Ingrid",
    "Luca",
    "Giulia",
    "Kofi",
    "Ama",
    "Mohammed",
    "Sara",
    "Nina",
    "Max",
)
_LAST_NAMES = (
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Garcia",
    "Miller",
    "Davis",
    "Martinez",
    "Mueller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Dubois",
    "Martin",
    "Bernard",
    "Moreau",
    "de Vries",
    "Jansen",
    "Bakker",
    "Visser",
    "Patel",
    "Sharma",
    "Singh",
    "Kumar",
    "Gupta",
    "Silva",
    "Santos",
    "Oliveira",
    "Souza",
    "Fernandez",
    "Lopez",
    "Gonzalez",
    "Rodriguez",
    "Sanchez",
    "Taylor",
    "Wilson",
    "Anderson",
    "Thomas",
    "Moore",
    "Jackson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Walker",
    "Young",
    "King",
    "Wright",
    "Scott",
    "Green",
    "Baker",
    "Adams",
    "Chen",
    "Wang",
    "Zhang",
    "Tanaka",
    "Suzuki",
    "Kim",
    "Park",
    "Nguyen",
    "Rossi",
    "Russo",
    "Andersson",
    "Nilsson",
    "O'Brien",
)
# code: (weight, phone prefix, company TLD, cities)
_COUNTRIES = {
    "US": (
        0.33,
        "+1",
        ".com",
        ("New York", "San Francisco", "Austin", "Boston", "Chicago", "Seattle"),
    ),
    "GB": (0.12, "+44", ".co.uk", ("London", "Manchester", "Edinburgh", "Bristol")),
    "DE": (0.10, "+49", ".de", ("Berlin", "Munich", "Hamburg", "Cologne")),
    "FR": (0.07, "+33", ".fr", ("Paris", "Lyon", "Toulouse")),
    "NL": (0.06, "+31", ".nl", ("Amsterdam", "Rotterdam", "Utrecht")),
    "CA": (0.06, "+1", ".ca", ("Toronto", "Vancouver", "Montreal")),
    "AU": (0.05, "+61", ".com.au", ("Sydney", "Melbourne", "Brisbane")),
    "IN": (0.08, "+91", ".in", ("Bengaluru", "Mumbai", "Delhi", "Pune")),
    "BR": (0.05, "+55", ".com.br", ("Sao Paulo", "Rio de Janeiro")),
    "ES": (0.05, "+34", ".es", ("Madrid", "Barcelona", "Valencia")),
    "SE": (0.02, "+46", ".se", ("Stockholm", "Gothenburg")),
    "SG": (0.01, "+65", ".sg", ("Singapore",)),
}
_CORE_COUNTRIES = ("US", "GB", "DE", "FR", "NL", "CA", "AU")
_LEGAL_SUFFIX = {
    "US": " Inc",
    "GB": " Ltd",
    "DE": " GmbH",
    "FR": " SAS",
    "NL": " BV",
    "CA": " Inc",
    "AU": " Pty Ltd",
    "IN": " Pvt Ltd",
    "BR": " Ltda",
    "ES": " SL",
    "SE": " AB",
    "SG": " Pte Ltd",
}
# title: (seniority 0-3, weight); "" means no job title on the record.
_TITLES = {
    "CEO": (3, 0.03),
    "Founder": (3, 0.02),
    "CTO": (3, 0.02),
    "VP Marketing": (3, 0.03),
    "VP Sales": (3, 0.03),
    "Head of Sales": (2, 0.04),
    "Head of Growth": (2, 0.03),
    "Director of IT": (2, 0.04),
    "Director of Marketing": (2, 0.04),
    "Marketing Manager": (1.5, 0.10),
    "Sales Manager": (1.5, 0.07),
    "Product Manager": (1.5, 0.06),
    "Operations Manager": (1.5, 0.05),
    "Account Executive": (1, 0.05),
    "Software Engineer": (1, 0.10),
    "Data Analyst": (1, 0.05),
    "Analyst": (1, 0.06),
    "Consultant": (1, 0.06),
    "Intern": (0, 0.03),
    "Student": (0, 0.02),
    "": (1, 0.07),
}
# industry: (weight, words used in company names)
_INDUSTRY_WORDS = {
    "COMPUTER_SOFTWARE": (0.16, ("Software", "Labs", "Cloud", "Systems", "AI")),
    "INFORMATION_TECHNOLOGY_AND_SERVICES": (0.12, ("IT", "Tech", "Solutions", "Digital")),
    "INTERNET": (0.06, ("Online", "Web", "Apps")),
    "MARKETING_AND_ADVERTISING": (0.08, ("Media", "Marketing", "Creative")),
    "FINANCIAL_SERVICES": (0.08, ("Capital", "Finance", "Payments")),
    "HOSPITAL_HEALTH_CARE": (0.07, ("Health", "Care", "Clinics")),
    "RETAIL": (0.07, ("Retail", "Stores", "Goods")),
    "EDUCATION_MANAGEMENT": (0.04, ("Learning", "Academy")),
    "HIGHER_EDUCATION": (0.02, ("University", "College")),
    "MANUFACTURING": (0.07, ("Manufacturing", "Industries", "Works")),
    "TELECOMMUNICATIONS": (0.04, ("Telecom", "Networks")),
    "NON_PROFIT_ORGANIZATION_MANAGEMENT": (0.03, ("Foundation", "Trust")),
    "CONSTRUCTION": (0.05, ("Construction", "Builders")),
    "LOGISTICS_AND_SUPPLY_CHAIN": (0.06, ("Logistics", "Freight", "Shipping")),
    "": (0.05, ("Group", "Partners", "Holdings")),
}
_TARGET_INDUSTRIES = (
    "COMPUTER_SOFTWARE",
    "INFORMATION_TECHNOLOGY_AND_SERVICES",
    "INTERNET",
    "MARKETING_AND_ADVERTISING",
    "FINANCIAL_SERVICES",
)
_BRAND_HEADS = (
    "Zen",
    "Nor",
    "Vel",
    "Cor",
    "Lum",
    "Ark",
    "Bri",
    "Cal",
    "Dex",
    "Ev",
    "Fin",
    "Gal",
    "Hal",
    "Ion",
    "Jun",
    "Kel",
    "Lyr",
    "Mer",
    "Nov",
    "Or",
    "Pax",
    "Quin",
    "Ros",
    "Sol",
    "Tor",
    "Ul",
    "Vin",
    "Wex",
    "Xan",
    "Yor",
)
_BRAND_TAILS = (
    "ia",
    "ex",
    "on",
    "ara",
    "is",
    "ent",
    "ora",
    "ix",
    "us",
    "ant",
    "eon",
    "ium",
    "ova",
    "ris",
    "ta",
    "vo",
    "da",
    "lo",
    "na",
    "ro",
)
_EMPLOYEE_BUCKETS = {
    (1, 10): 0.18,
    (11, 50): 0.28,
    (51, 200): 0.25,
    (201, 1000): 0.15,
    (1001, 5000): 0.07,
    (5001, 50000): 0.03,
    None: 0.04,
}
_EMAIL_KINDS = {"work": 0.81, "free": 0.15, "student": 0.03, "competitor": 0.01}
_KIND_FIT = {"work": 1.0, "free": 0.6, "student": 0.1, "competitor": 0.0}
_FREEMAIL = {"gmail.com": 0.55, "yahoo.com": 0.15, "hotmail.com": 0.15, "outlook.com": 0.15}
_STUDENT_DOMAINS = (
    "mit.edu",
    "stanford.edu",
    "berkeley.edu",
    "umich.edu",
    "nyu.edu",
    "utexas.edu",
    "student.uva.nl",
    "student.tudelft.nl",
    "student.kuleuven.be",
    "student.unimelb.edu.au",
)
_COMPETITORS = {
    "hubspot.com": "HubSpot",
    "marketo.com": "Marketo",
    "salesforce.com": "Salesforce",
    "pardot.com": "Pardot",
    "activecampaign.com": "ActiveCampaign",
}
_OWNERS = (
    ("Sarah", "Chen", "Sales EMEA"),
    ("David", "Okafor", "Sales EMEA"),
    ("Laura", "Meyer", "Sales EMEA"),
    ("Miguel", "Torres", "Sales Americas"),
    ("Emily", "Brooks", "Sales Americas"),
    ("Kenji", "Watanabe", "Sales APAC"),
    ("Aisha", "Khan", "SDR"),
    ("Tom", "Becker", "SDR"),
)
_BASE_STAGES = {
    "subscriber": 0.47,
    "lead": 0.40,
    "marketingqualifiedlead": 0.06,
    "salesqualifiedlead": 0.015,
    "other": 0.005,
    "": 0.05,
}
_COLD_STATUSES = {
    "NEW": 0.35,
    "OPEN": 0.2,
    "ATTEMPTED_TO_CONTACT": 0.2,
    "UNQUALIFIED": 0.15,
    "BAD_TIMING": 0.1,
}
_SOURCES = {
    "ORGANIC_SEARCH": 0.30,
    "PAID_SEARCH": 0.12,
    "DIRECT_TRAFFIC": 0.15,
    "REFERRALS": 0.08,
    "SOCIAL_MEDIA": 0.10,
    "EMAIL_MARKETING": 0.08,
    "OTHER_CAMPAIGNS": 0.05,
    "OFFLINE": 0.12,
}
_DEAL_OUTCOMES = {
    "closedwon": 0.35,
    "closedlost": 0.25,
    "appointmentscheduled": 0.12,
    "qualifiedtobuy": 0.10,
    "presentationscheduled": 0.08,
    "decisionmakerboughtin": 0.05,
    "contractsent": 0.05,
}
_DEAL_KINDS = ("Starter", "Professional", "Enterprise", "Expansion", "Pilot")
_SITE = "https://www.example.com"
# path: (title, weight for buyer, browser, seeker personas)
_PAGES = {
    "/": ("Home", 10, 12, 8),
    "/pricing": ("Pricing", 14, 4, 1),
    "/product": ("Product overview", 10, 6, 2),
    "/product/integrations": ("Integrations", 6, 3, 1),
    "/product/lead-scoring": ("Lead scoring", 6, 3, 1),
    "/customers": ("Customer stories", 5, 3, 1),
    "/demo": ("Book a demo", 6, 1, 0.2),
    "/blog/lead-scoring-guide": ("The lead scoring guide", 4, 10, 6),
    "/blog/b2b-funnel-metrics": ("B2B funnel metrics that matter", 3, 9, 5),
    "/blog/marketing-automation-tips": ("12 marketing automation tips", 2, 9, 5),
    "/blog/crm-hygiene": ("CRM hygiene in 5 steps", 2, 6, 3),
    "/careers": ("Careers", 0.5, 2, 14),
    "/careers/software-engineer": ("Software Engineer", 0.2, 1, 8),
    "/docs": ("Documentation", 5, 3, 2),
    "/docs/api": ("API reference", 4, 2, 2),
    "/about": ("About us", 2, 3, 4),
}
_HAND_RAISE_FORMS = {
    "Demo request": 0.45,
    "Pricing request": 0.2,
    "Contact sales": 0.25,
    "Quote request": 0.1,
}
_CONTENT_FORMS = {"Newsletter signup": 0.4, "Ebook download": 0.35, "Webinar registration": 0.25}
_CAMPAIGNS = (
    "Your monthly product update",
    "5 ways to score leads faster",
    "Webinar: pipeline hygiene for RevOps",
    "New: two-way CRM sync",
    "How Norvia doubled its MQL-to-SQL rate",
    "Last chance: webinar seats",
    "The 2026 B2B funnel benchmark",
    "Quick question about your lead routing",
    "Your free trial ends soon",
    "Case study: 40% faster follow-up",
    "Ebook: the RevOps playbook",
    "Invitation: customer roundtable",
)
_NON_ALPHA = re.compile(r"[^a-z]")


class _Picker:
    """Weighted choice via bisect on cumulative weights (cheaper than random.choices)."""

    def __init__(self, weights: dict[Any, float]) -> None:
        self.items = list(weights)
        self.cumulative: list[float] = []
        total = 0.0
        for weight in weights.values():
            total += weight
            self.cumulative.append(total)

    def __call__(self, rng: random.Random) -> Any:
        return self.items[bisect.bisect(self.cumulative, rng.random() * self.cumulative[-1])]


def _form_props(title: str) -> dict[str, str]:
    return {
        "hs_form_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"leadflow-sandbox/form/{title}")),
        "hs_form_title": title,
    }


# Event properties are shared dicts: millions of events, a few dozen distinct payloads.
_PAGE_PROPS = {
    path: {"hs_url": _SITE + path, "hs_page_title": f"{title} | Example"}
    for path, (title, *_) in _PAGES.items()
}
_PAGE_PICKERS = {
    persona: _Picker({p: w[column] for p, w in _PAGES.items()})
    for column, persona in enumerate(("buyer", "browser", "seeker"), start=1)
}
_CAMPAIGN_PROPS = [
    {"hs_email_campaign_id": str(310_000 + 17 * i), "hs_email_subject": subject}
    for i, subject in enumerate(_CAMPAIGNS)
]
_HAND_RAISE = _Picker({title: w for title, w in _HAND_RAISE_FORMS.items()})
_CONTENT = _Picker({title: w for title, w in _CONTENT_FORMS.items()})
_FORM_PROPS = {title: _form_props(title) for title in (*_HAND_RAISE_FORMS, *_CONTENT_FORMS)}
_REPLY_PROPS = {"hs_email_subject": "Re: Quick question about your lead routing"}


@dataclass(slots=True)
class _CompanyDraft:
    props: dict[str, str]
    country: str
    industry: str
    employees: int | None
    created_ms: int
    updated_ms: int
    id: int = 0


@dataclass(slots=True)
class _PersonDraft:
    props: dict[str, str]
    created_ms: int
    company: _CompanyDraft | None
    fit: float
    persona: str
    hand_raise: bool
    accepted: bool
    id: int = 0


@dataclass(slots=True)
class _DealDraft:
    props: dict[str, str]
    person: _PersonDraft
    created_ms: int
    updated_ms: int


class _Generator:
    """Fills a portal from one seeded RNG; `now_ms` is the only time input.

    People get a hidden "fit" (seniority, company size, industry, market, email kind) that
    biases the behaviour a lead-scoring model should pick up: hand-raise forms, sales
    acceptance, BANT answers, deals and the pages they browse.
    """

    def __init__(self, portal: Portal, seed: int, contacts: int, now_ms: int) -> None:
        self.portal = portal
        self.rng = random.Random(seed)
        self.count = contacts
        self.now = now_ms
        self.emails: set[str] = set()
        self.domains: set[str] = set()
        self.owner_ids: list[int] = []
        pick = _Picker
        self.pick_country = pick({c: spec[0] for c, spec in _COUNTRIES.items()})
        self.pick_title = pick({t: spec[1] for t, spec in _TITLES.items()})
        self.pick_industry = pick({i: spec[0] for i, spec in _INDUSTRY_WORDS.items()})
        self.pick_bucket = pick(_EMPLOYEE_BUCKETS)
        self.pick_kind = pick(_EMAIL_KINDS)
        self.pick_freemail = pick(_FREEMAIL)
        self.pick_stage = pick(_BASE_STAGES)
        self.pick_cold = pick(_COLD_STATUSES)
        self.pick_source = pick(_SOURCES)
        self.pick_outcome = pick(_DEAL_OUTCOMES)

    def run(self) -> None:
        rng = self.rng
        self.portal._event_prefix = (
            f"{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}-"
            f"4{rng.getrandbits(12):03x}-{rng.choice('89ab')}"
            f"{rng.getrandbits(12):03x}-"
        )
        self._owners()
        companies = self._companies()
        people = [self._person(companies) for _ in range(self.count)]
        deals = [deal for person in people if (deal := self._deal(person)) is not None]
        self._insert_people(people)
        self._insert_deals(deals)
        self.portal._load_events(self._events(people))

    def _between(self, start: int, end: int) -> int:
        return start + int(self.rng.random() * max(0, end - start))

    def _owners(self) -> None:
        created = datetime.fromtimestamp((self.now - 400 * _DAY_MS) / 1000, UTC)
        for first, last, team in _OWNERS:
            team_id = str(40_000 + sum(map(ord, team)))
            self.owner_ids.append(
                self.portal.add_owner(
                    f"{first}.{last}@example.com",
                    first,
                    last,
                    created_at=created,
                    teams=[{"id": team_id, "name": team, "primary": True}],
                )
            )

    def _companies(self) -> list[_CompanyDraft]:
        drafts = [self._company() for _ in range(max(1, round(self.count / 5)))]
        drafts.sort(key=lambda c: c.created_ms)
        for draft in drafts:
            draft.id = self.portal._insert(
                "companies", draft.props, draft.created_ms, draft.updated_ms
            ).id
        return drafts

    def _company(self) -> _CompanyDraft:
        rng = self.rng
        industry = self.pick_industry(rng)
        country = self.pick_country(rng)
        _, _, tld, cities = _COUNTRIES[country]
        brand = rng.choice(_BRAND_HEADS) + rng.choice(_BRAND_TAILS)
        core = rng.choice(_INDUSTRY_WORDS[industry][1])
        legal = _LEGAL_SUFFIX[country] if rng.random() < 0.5 else ""
        domain = self._domain(
            _NON_ALPHA.sub("", f"{brand}{core}".lower()), ".com" if rng.random() < 0.6 else tld
        )
        bucket = self.pick_bucket(rng)
        employees = rng.randint(*bucket) if bucket else None
        props = {
            "name": f"{brand} {core}{legal}",
            "domain": domain,
            "country": country,
            "city": rng.choice(cities),
        }
        if industry:
            props["industry"] = industry
        if employees:
            props["numberofemployees"] = str(employees)
            if rng.random() < 0.8:
                revenue = employees * rng.uniform(60_000, 250_000)
                props["annualrevenue"] = str(round(revenue, -3))[:-2]
        created = self.now - int(150 * _DAY_MS * rng.random() ** 1.2)
        return _CompanyDraft(
            props, country, industry, employees, created, self._between(created, self.now)
        )

    def _domain(self, stem: str, tld: str) -> str:
        domain, n = stem + tld, 1
        while domain in self.domains:
            n += 1
            domain = f"{stem}{n}{tld}"
        self.domains.add(domain)
        return domain

    def _person(self, companies: list[_CompanyDraft]) -> _PersonDraft:
        rng = self.rng
        company = companies[int(len(companies) * rng.random() ** 1.6)]
        first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
        kind = self.pick_kind(rng)
        title = "Student" if kind == "student" and rng.random() < 0.8 else self.pick_title(rng)
        employer = company if kind == "work" else None
        country = company.country if employer and rng.random() < 0.9 else self.pick_country(rng)
        fit = _fit(kind, _TITLES[title][0], employer, country)
        hand_raise = rng.random() < 0.1 * fit**2
        accepted = rng.random() < (0.6 if hand_raise else 0.05 * fit)
        props = {
            "email": self._email(first, last, kind, company),
            "firstname": first,
            "lastname": last,
        }
        if title:
            props["jobtitle"] = title
        self._contact_details(props, country, kind, employer)
        self._qualification(props, fit, hand_raise, accepted)
        persona = (
            "seeker"
            if kind == "student" or title in ("Intern", "Student")
            else "buyer"
            if fit >= 0.55
            else "browser"
        )
        created = self.now - int(120 * _DAY_MS * rng.random() ** 1.3)
        return _PersonDraft(props, created, employer, fit, persona, hand_raise, accepted)

    def _email(self, first: str, last: str, kind: str, company: _CompanyDraft) -> str:
        rng = self.rng
        domain = {
            "work": lambda: company.props["domain"],
            "free": lambda: self.pick_freemail(rng),
            "student": lambda: rng.choice(_STUDENT_DOMAINS),
            "competitor": lambda: rng.choice(list(_COMPETITORS)),
        }[kind]()
        f, la = _NON_ALPHA.sub("", first.lower()), _NON_ALPHA.sub("", last.lower())
        local = rng.choice((f"{f}.{la}", f"{f[0]}{la}", f"{f}{la}", f, f"{f}_{la}"))
        if kind == "free" and rng.random() < 0.5:
            local += str(rng.randint(1, 99))
        email = f"{local}@{domain}"
        while email in self.emails:
            email = f"{local}{rng.randint(2, 9999)}@{domain}"
        self.emails.add(email)
        return email

    def _contact_details(
        self, props: dict[str, str], country: str, kind: str, employer: _CompanyDraft | None
    ) -> None:
        rng = self.rng
        _, prefix, _, cities = _COUNTRIES[country]
        if rng.random() < 0.95:
            props["country"] = country
            if rng.random() < 0.8:
                props["city"] = rng.choice(cities)
        if rng.random() < 0.55:
            props["phone"] = (
                f"{prefix} {rng.randint(100, 999)} {rng.randint(100, 999)} "
                f"{rng.randint(1000, 9999)}"
            )
        domain = props["email"].rsplit("@", 1)[1]
        if employer is not None:
            if rng.random() < 0.85:
                props["company"] = employer.props["name"]
            if rng.random() < 0.35:
                props["website"] = f"https://www.{employer.props['domain']}"
        elif kind == "competitor":
            props["company"] = _COMPETITORS[domain]
        props["hs_analytics_source"] = self.pick_source(rng)

    def _qualification(
        self, props: dict[str, str], fit: float, hand_raise: bool, accepted: bool
    ) -> None:
        rng = self.rng
        stage = self.pick_stage(rng)
        floor = "salesqualifiedlead" if accepted else "marketingqualifiedlead" if hand_raise else ""
        if floor and _STAGE_RANK.get(stage, -1) < _STAGE_RANK[floor]:
            stage = floor
        if stage:
            props["lifecyclestage"] = stage
        if accepted:
            props["hubspot_owner_id"] = str(rng.choice(self.owner_ids))
            props["hs_lead_status"] = rng.choice(("IN_PROGRESS", "CONNECTED"))
        elif rng.random() < 0.2:
            props["hs_lead_status"] = self.pick_cold(rng)
            if rng.random() < 0.5:
                props["hubspot_owner_id"] = str(rng.choice(self.owner_ids))
        if rng.random() < (0.7 if accepted or hand_raise else 0.06):
            for part in ("budget", "authority", "need", "timeframe"):
                if rng.random() < 0.8:
                    props[f"bant_{part}"] = "yes" if rng.random() < 0.25 + 0.7 * fit else "no"

    def _deal(self, person: _PersonDraft) -> _DealDraft | None:
        rng = self.rng
        chance = 0.45 if person.accepted else 0.2 if person.hand_raise else 0.08 * person.fit
        if rng.random() >= chance:
            return None
        stage = self.pick_outcome(rng)
        created = self._between(person.created_ms, self.now)
        if stage.startswith("closed"):
            closed = self._between(created, self.now)
            updated = self._between(closed, min(self.now, closed + 2 * _DAY_MS))
        else:
            closed = self.now + rng.randint(7, 90) * _DAY_MS
            updated = self._between(created, self.now)
        company = person.company
        size = company.employees if company and company.employees else 20
        low, high = (
            (2_000, 15_000) if size < 50 else (10_000, 80_000) if size < 1000 else (40_000, 300_000)
        )
        account = company.props["name"] if company else f"{person.props['lastname']} account"
        owner = person.props.get("hubspot_owner_id") or str(rng.choice(self.owner_ids))
        props = {
            "dealname": f"{account} - {rng.choice(_DEAL_KINDS)}",
            "amount": str(rng.randint(low // 100, high // 100) * 100),
            "dealstage": stage,
            "pipeline": "default",
            "closedate": iso(closed),
            "hubspot_owner_id": owner,
        }
        _promote(person, stage)
        return _DealDraft(props, person, created, updated)

    def _insert_people(self, people: list[_PersonDraft]) -> None:
        """Insert in createdate order so ids grow with time, as they do in HubSpot."""
        people.sort(key=lambda p: p.created_ms)
        for person in people:
            updated = self._between(person.created_ms, self.now)
            person.id = self.portal._insert("contacts", person.props, person.created_ms, updated).id
            if person.company is not None:
                self.portal._link("contacts", person.id, "companies", person.company.id, 1)

    def _insert_deals(self, deals: list[_DealDraft]) -> None:
        deals.sort(key=lambda d: d.created_ms)
        for deal in deals:
            deal_id = self.portal._insert("deals", deal.props, deal.created_ms, deal.updated_ms).id
            self.portal._link("deals", deal_id, "contacts", deal.person.id, 3)
            if deal.person.company is not None:
                self.portal._link("deals", deal_id, "companies", deal.person.company.id, 5)

    def _events(self, people: list[_PersonDraft]) -> list[Event]:
        """~11 events per contact (log-normal, heavy-tailed) over the last six weeks."""
        rng, now = self.rng, self.now
        horizon = now - 42 * _DAY_MS
        events: list[Event] = []
        seq = self.portal._next_event_seq
        for person in people:
            start = max(horizon, person.created_ms)
            span = max(1, now - start)
            pages = _PAGE_PICKERS[person.persona]
            activity = [
                self._activity(pages) for _ in range(min(300, int(rng.lognormvariate(1.9, 1.0))))
            ]
            timed = [(kind, start + int(rng.random() * span), props) for kind, props in activity]
            timed += self._milestones(person, start, span)
            for kind, occurred, props in timed:
                events.append(Event(seq, "contacts", person.id, kind, occurred, props))
                seq += 1
        return events

    def _activity(self, pages: _Picker) -> tuple[str, dict[str, str]]:
        rng = self.rng
        roll = rng.random()
        if roll < 0.6:
            return "e_visited_page", _PAGE_PROPS[pages(rng)]
        if roll < 0.85:
            return "e_opened_email", rng.choice(_CAMPAIGN_PROPS)
        if roll < 0.95:
            return "e_clicked_email", rng.choice(_CAMPAIGN_PROPS)
        return "e_submitted_form", _FORM_PROPS[_CONTENT(rng)]

    def _milestones(
        self, person: _PersonDraft, start: int, span: int
    ) -> list[tuple[str, int, dict[str, str]]]:
        """Rare, meaningful events: hand-raises (after a pricing visit), replies, opt-outs."""
        rng = self.rng
        moments: list[tuple[str, int, dict[str, str]]] = []
        if person.hand_raise:
            moment = start + int(rng.random() * span)
            visit = max(start, moment - rng.randint(1, 30) * 60_000)
            moments += [
                ("e_visited_page", visit, _PAGE_PROPS["/pricing"]),
                ("e_submitted_form", moment, _FORM_PROPS[_HAND_RAISE(rng)]),
            ]
        if person.accepted and rng.random() < 0.35:
            moments.append(
                ("e_replied_to_sequence_email", start + int(rng.random() * span), _REPLY_PROPS)
            )
        if rng.random() < 0.02:
            moments.append(
                ("e_unsubscribed", start + int(rng.random() * span), rng.choice(_CAMPAIGN_PROPS))
            )
        if rng.random() < 0.01:
            moments.append(
                ("e_hard_bounced", start + int(rng.random() * span), rng.choice(_CAMPAIGN_PROPS))
            )
        return moments


def _fit(kind: str, seniority: float, employer: _CompanyDraft | None, country: str) -> float:
    """Hidden ideal-customer fit in [0, 1] that drives the generated behaviour."""
    employees = employer.employees if employer else None
    size = (
        0.3
        if employees is None
        else 1.0
        if 50 <= employees <= 5000
        else 0.5
        if employees > 10
        else 0.2
    )
    industry = 1.0 if employer and employer.industry in _TARGET_INDUSTRIES else 0.4
    market = 1.0 if country in _CORE_COUNTRIES else 0.5
    score = 0.4 * seniority / 3 + 0.25 * size + 0.2 * industry + 0.15 * market
    return score * _KIND_FIT[kind]


def _promote(person: _PersonDraft, deal_stage: str) -> None:
    """Deals move the contact forward: won deals make customers, open ones opportunities."""
    if deal_stage == "closedlost":
        return
    target = "customer" if deal_stage == "closedwon" else "opportunity"
    current = person.props.get("lifecyclestage", "")
    if _STAGE_RANK.get(current, -1) < _STAGE_RANK[target]:
        person.props["lifecyclestage"] = target
    if target == "opportunity" and person.accepted:
        person.props["hs_lead_status"] = "OPEN_DEAL"
