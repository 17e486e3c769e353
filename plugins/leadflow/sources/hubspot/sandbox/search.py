"""CRM search: filter groups and sorts compiled into predicates, and the search endpoint.

HubSpot's operators (EQ ... BETWEEN, IN, HAS_PROPERTY, CONTAINS_TOKEN) compare numbers
numerically, dates as instants and text case-insensitively; filter groups are ORed, filters in a
group ANDed, under HubSpot's documented size limits. ``search`` adds the free-text ``query``,
one sort, and offset paging capped at 10,000 results; each query's ids are cached until the
next write.
"""

from __future__ import annotations

import fnmatch
import json
import operator
import re
from collections.abc import Callable
from typing import Any

from leadflow.sources.hubspot.sandbox.properties import PropertyDef
from leadflow.sources.hubspot.sandbox.records import CrmObject
from leadflow.sources.hubspot.sandbox.state import PortalState, _locked
from leadflow.sources.hubspot.sandbox.values import (
    MAX_FILTER_GROUPS,
    MAX_FILTERS,
    MAX_FILTERS_PER_GROUP,
    MAX_SEARCH_PAGE,
    SEARCH_RESULT_CAP,
    Reply,
    _check_limit,
    _invalid,
    _offset,
    normalize_type,
    parse_ms,
)

# Free-text `query` in search matches these, like HubSpot's default searchable properties.
_QUERY_PROPERTIES = {
    "contacts": ("firstname", "lastname", "email", "phone", "company"),
    "companies": ("name", "domain"),
    "deals": ("dealname",),
}
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


class SearchApi(PortalState):
    """The search endpoint, POST /crm/v3/objects/{type}/search."""

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
