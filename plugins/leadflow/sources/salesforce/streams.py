"""The Salesforce streams: one per object of objects.READ, each loaded into raw.<stream> on a
keyset cursor (stamp, Id) kept in leadflow.stream_state.

A stream's first load reads the object's whole history up to the interval's end through a Bulk
API 2.0 query job (meant for more than 2,000 records; its CSV is typed back through describe);
later runs read what changed since the cursor through REST query pages on the keyset. A run
reads up to `settle_s` before now at most, for writes Salesforce commits after their stamp.
Deletable objects are read with queryAll, so deleted and merged-away records arrive with
IsDeleted (and MasterRecordId) and are kept archived. A record without a valid Id or stamp is
quarantined with the reason; the cursor moves only past what was committed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from leadflow.db import connect
from leadflow.extract import batches, finish_stream, start_keyset_stream
from leadflow.load import BadRecord, encode_all, object_line, payload, upsert_objects
from leadflow.settings import PostgresSettings
from leadflow.sources.salesforce.client import SalesforceClient, literal, parse_time
from leadflow.sources.salesforce.ids import normalize
from leadflow.sources.salesforce.objects import STREAMS, ReadObject
from leadflow.sources.salesforce.settings import SalesforceSettings
from leadflow.stats import ExtractStats

BATCH = 2000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NUMBERS = {"int": int, "double": float, "currency": float, "percent": float}


def extract_stream(
    stream: str,
    pg: PostgresSettings,
    settings: SalesforceSettings,
    interval_start: datetime,
    interval_end: datetime,
    load_id: str,
) -> ExtractStats:
    """Extract and load one stream up to the data interval's end."""
    obj = STREAMS.get(stream)
    if obj is None:
        raise ValueError(f"unknown stream {stream!r}; expected one of {list(STREAMS)}")
    cursor = start_keyset_stream(pg, stream, load_id)
    until = min(interval_end, datetime.now(UTC) - timedelta(seconds=settings.settle_s))
    stats = ExtractStats(stream)
    last = cursor
    with SalesforceClient(settings) as client:
        bulk = cursor is None and settings.bulk_first_load
        types = (
            {f["name"]: f["type"] for f in client.describe(obj.name)["fields"]}
            if bulk or obj.optional
            else {}
        )
        fields = [*obj.fields, *(f for f in obj.optional if f in types)]
        if bulk:
            stats.mode = "bulk"
            records: Iterable[dict[str, Any]] = _bulk(client, obj, fields, types, until)
        else:
            stats.mode = "query"
            records = client.changed(
                obj.name,
                fields,
                cursor,
                until,
                include_deleted=obj.deletable,
                stamp=obj.cursor_field,
            )
        for batch in batches(records, BATCH):
            encoded = encode_all(batch, lambda r: _line(obj, r), id_key="Id")
            with connect(pg) as conn, conn.transaction():
                stats.add(upsert_objects(conn, f"raw.{stream}", stream, encoded, load_id, "text"))
            stats.archived += sum(1 for r in batch if r.get("IsDeleted") is True)
            last = max([last, *(_key(obj, r) for r in batch)], key=_order)
        stats.requests = client.requests_sent
    # An empty first load still records a cursor, so the next run reads changes, not history.
    at, key = _order(last)
    finish_stream(pg, stats, at, load_id, cursor_key=key)
    stats.window_start = cursor[0].isoformat() if cursor else ""
    stats.window_end = until.isoformat()
    return stats


def _order(key: tuple[datetime, str] | None) -> tuple[datetime, str]:
    return key or (EPOCH, "")


def _key(obj: ReadObject, record: dict[str, Any]) -> tuple[datetime, str] | None:
    """The record's place in the keyset, or None when it has none (it is quarantined: a
    malformed Id must not become the cursor, which would skip the valid ids after it)."""
    record_id = normalize(str(record.get("Id") or ""))
    try:
        return (parse_time(str(record[obj.cursor_field])), record_id) if record_id else None
    except (KeyError, ValueError):
        return None


def _line(obj: ReadObject, record: dict[str, Any]) -> bytes:
    record_id = normalize(str(record.get("Id") or ""))
    if record_id is None:
        raise BadRecord(f"malformed Id {record.get('Id')!r}")
    try:
        stamp = parse_time(str(record.get(obj.cursor_field)))
    except ValueError as exc:
        raise BadRecord(f"invalid {obj.cursor_field} {record.get(obj.cursor_field)!r}") from exc
    return object_line(record_id, payload(record), stamp, record.get("IsDeleted") is True)


def _bulk(
    client: SalesforceClient,
    obj: ReadObject,
    fields: list[str],
    types: dict[str, str],
    until: datetime,
) -> Iterator[dict[str, Any]]:
    """The object's history up to `until` through a Bulk API 2.0 query job, each CSV row
    typed (by describe's `types`) as the REST API would have returned it."""
    columns = ", ".join(dict.fromkeys(["Id", obj.cursor_field, *fields]))
    soql = f"SELECT {columns} FROM {obj.name} WHERE {obj.cursor_field} < {literal(until)}"
    for row in client.bulk_query(soql, include_deleted=obj.deletable):
        yield {name: _typed(types.get(name, "string"), value) for name, value in row.items()}


def _typed(kind: str, value: str) -> Any:
    """A Bulk CSV value in the REST API's JSON form: null for empty, booleans, numbers, and
    datetimes as 2026-11-30T10:00:00.000+0000."""
    if value == "":
        return None
    if kind == "boolean":
        return value.lower() == "true"
    if kind in _NUMBERS:
        try:
            return _NUMBERS[kind](value)
        except ValueError:
            return value  # kept as read; staging's casts report it
    if kind == "datetime" and value.endswith("Z"):
        return value[:-1] + "+0000"
    return value
