"""The vocabulary every sandbox module shares: object types, limits, errors, times, paging.

HubSpot's error shape (:class:`ApiError`), its timestamp rendering and its paging and batch-input
rules are used by the property definitions, the records, search, every API module and the HTTP
server alike, so they live here, below all of them, and each limit HubSpot documents is written
down once. Times are epoch milliseconds, rendered the way HubSpot renders them (ISO-8601 with
milliseconds and ``Z``).
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

# HubSpot's standard object types: plural name, singular name, objectTypeId. The engagements
# (calls to tasks) are activity on a record's timeline and need `hs_timestamp`.
_STANDARD_TYPES = (
    ("contacts", "contact", "0-1"),
    ("companies", "company", "0-2"),
    ("deals", "deal", "0-3"),
    ("tickets", "ticket", "0-5"),
    ("products", "product", "0-7"),
    ("line_items", "line_item", "0-8"),
    ("quotes", "quote", "0-14"),
    ("tasks", "task", "0-27"),
    ("notes", "note", "0-46"),
    ("meetings", "meeting", "0-47"),
    ("calls", "call", "0-48"),
    ("emails", "email", "0-49"),
)
OBJECT_TYPES = tuple(plural for plural, _, _ in _STANDARD_TYPES)
ENGAGEMENT_TYPES = ("tasks", "notes", "meetings", "calls", "emails")
_TYPE_ALIASES = {
    alias: plural
    for plural, singular, type_id in _STANDARD_TYPES
    for alias in (plural, singular, type_id)
}
_SINGULAR = {plural: singular.upper() for plural, singular, _ in _STANDARD_TYPES}
OBJECT_TYPE_IDS = {plural: type_id for plural, _, type_id in _STANDARD_TYPES}
# Distinct id ranges per type make a company id used as a contact id fail loudly in tests.
_FIRST_ID = {plural: 1 + n * 1_000_000 for n, plural in enumerate(OBJECT_TYPES)}

MAX_PAGE = 100
# HubSpot: propertiesWithHistory "will reduce the maximum number of objects that can be read
# by a single request"; the cap is not documented, 50 is the figure commonly reported.
MAX_HISTORY_PAGE = 50
MAX_BATCH = 100
MAX_SEARCH_PAGE = 200
SEARCH_RESULT_CAP = 10_000
# Search limits since 26 Aug 2024 (HubSpot changelog, "expanded filtering capabilities").
MAX_FILTER_GROUPS = 5
MAX_FILTERS_PER_GROUP = 10
MAX_FILTERS = 25
MAX_ASSOCIATION_BATCH = 1000
MAX_ASSOCIATION_PAGE = 500
MAX_OWNER_PAGE = 500
MAX_EVENT_PAGE = 1000

Reply = tuple[int, Any]


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


# -- paging and batch inputs ------------------------------------------------------------------


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
