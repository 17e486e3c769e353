"""HubSpot's records in raw: how each API record becomes a row (ids, timestamps, archived), the
tables they go to, and what only HubSpot has: merges, v4 associations, the property lists."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from leadflow.load import (
    ACTIVITY_COLUMNS,
    MAX_BIGINT,
    BadRecord,
    Encoded,
    activity_line,
    bigint,
    encode_all,
    event_line,
    first_of_each_id,
    insert_new,
    object_line,
    payload,
    quarantine,
    stage_objects,
    timestamp,
    upsert_objects,
)
from leadflow.sources.hubspot import ENGAGEMENT_TYPES
from leadflow.stats import LoadStats

OBJECT_TABLES = {
    "contacts": "raw.hubspot_contacts",
    "companies": "raw.hubspot_companies",
    "deals": "raw.hubspot_deals",
    "owners": "raw.hubspot_owners",
    **{engagement: f"raw.hubspot_{engagement}" for engagement in ENGAGEMENT_TYPES},
}
EVENTS_TABLE = "raw.hubspot_events"
# Marketing activity keyed by email, one table per stream.
ACTIVITY_TABLES = {
    "form_submissions": "raw.hubspot_form_submissions",
    "email_events": "raw.hubspot_email_events",
    "subscription_changes": "raw.hubspot_subscription_changes",
}
# Plausible event times: not before this, not more than the slack after the interval's end.
EVENTS_SINCE = datetime(2000, 1, 1, tzinfo=UTC)
EVENTS_FUTURE_SLACK = timedelta(hours=1)


def _object_line(record: Any) -> bytes:
    """One COPY line `id, record, hash, updated_at, archived` or BadRecord."""
    if not isinstance(record, dict):
        raise BadRecord(f"record is {type(record).__name__}, not a JSON object")
    if "id" not in record:
        raise BadRecord("record without an id")
    object_id = bigint(record["id"], "id")
    if not isinstance(record.get("properties", {}), dict):
        raise BadRecord("properties is not a JSON object")
    updated = timestamp(record, "updatedAt")
    archived = record.get("archived") is True or bool(record.get("archivedAt"))
    return object_line(object_id, payload(record), updated, archived)


def _event_line(record: Any, latest: datetime | None = None) -> bytes:
    """One COPY line of an event, or BadRecord; `latest` is the last plausible occurredAt."""
    if not isinstance(record, dict) or not record.get("id"):
        raise BadRecord("event without an id")
    object_id = bigint(record.get("objectId"), "objectId")
    event_type = record.get("eventType")
    if not isinstance(event_type, str) or not event_type:
        raise BadRecord("event without an eventType")
    occurred = timestamp(record, "occurredAt")
    if occurred < EVENTS_SINCE:
        raise BadRecord(
            f"implausible occurredAt {record['occurredAt']}: before {EVENTS_SINCE:%Y-%m-%d}"
        )
    if latest is not None and occurred > latest:
        raise BadRecord(
            f"occurredAt {record['occurredAt']} is in the future: more than "
            f"{EVENTS_FUTURE_SLACK} after the end of the interval that read it"
        )
    object_type = str(record.get("objectType", "")).lower()
    return event_line(
        str(record["id"]), event_type, object_type, object_id, occurred, payload(record)
    )


def encode_objects(records: Sequence[Any]) -> Encoded:
    return encode_all(records, _object_line)


def encode_events(records: Sequence[Any], latest: datetime | None = None) -> Encoded:
    """Events are immutable, so a repeat of an event id within the batch is kept once.

    Events dated before EVENTS_SINCE or after `latest` (the reading interval's end plus
    EVENTS_FUTURE_SLACK) are implausible: they are quarantined with the reason.
    """
    return first_of_each_id(encode_all(records, lambda record: _event_line(record, latest)))


def load_objects(
    conn: psycopg.Connection, stream: str, records: Sequence[Any] | Encoded, load_id: str
) -> LoadStats:
    """Upsert a CRM stream's records into raw.hubspot_<stream>."""
    batch = records if isinstance(records, Encoded) else encode_objects(records)
    return upsert_objects(conn, OBJECT_TABLES[stream], stream, batch, load_id)


def load_events(
    conn: psycopg.Connection, records: Sequence[Any] | Encoded, load_id: str
) -> LoadStats:
    """Insert events into raw.hubspot_events (known ids skipped)."""
    batch = records if isinstance(records, Encoded) else encode_events(records)
    return insert_new(conn, EVENTS_TABLE, "events", batch, load_id)


def normalized_email(value: Any) -> str | None:
    """An address as contacts are matched on it: trimmed, lower case; None if it is none."""
    email = value.strip().lower() if isinstance(value, str) else ""
    return email if "@" in email else None


def _from_millis(record: dict[str, Any], key: str) -> datetime:
    value = record.get(key)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadRecord(f"invalid epoch milliseconds in {key}: {value!r}")
    try:
        moment = datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise BadRecord(f"invalid epoch milliseconds in {key}: {value!r}") from exc
    if moment < EVENTS_SINCE:
        raise BadRecord(f"implausible {key} {value}: before {EVENTS_SINCE:%Y-%m-%d}")
    return moment


def _submission_line(record: Any) -> bytes:
    """A form submission (the stream adds formId): it names its submitter only by the email
    typed into the form, so one without a valid email can never be attributed."""
    if not isinstance(record, dict) or not record.get("conversionId"):
        raise BadRecord("submission without a conversionId")
    values = record.get("values")
    if not isinstance(values, list):
        raise BadRecord("submission values is not a list")
    typed = next(
        (v.get("value") for v in values if isinstance(v, dict) and v.get("name") == "email"), None
    )
    email = normalized_email(typed)
    if email is None:
        raise BadRecord(f"submission without a valid email: {typed!r}")
    occurred = _from_millis(record, "submittedAt")
    return activity_line(
        str(record["conversionId"]), str(record["formId"]), email, occurred, payload(record)
    )


def _email_event_line(record: Any) -> bytes:
    """A marketing email event; UNBOUNCE names no type or recipient, so both may be empty."""
    if not isinstance(record, dict) or not record.get("id"):
        raise BadRecord("email event without an id")
    occurred = _from_millis(record, "created")
    kind, email = str(record.get("type") or ""), normalized_email(record.get("recipient"))
    return activity_line(str(record["id"]), kind, email, occurred, payload(record))


def subscription_changes(entry: Any) -> list[Any]:
    """A timeline entry (one recipient, one time, several changes) as one record per change,
    each with the recipient and a stable id; an entry that is no object stays one record."""
    if not isinstance(entry, dict) or not isinstance(entry.get("changes"), list):
        return [entry]
    shared = {k: v for k, v in entry.items() if k != "changes"}
    changes = []
    for index, change in enumerate(entry["changes"]):
        record = {**shared, **change} if isinstance(change, dict) else {**shared, "change": change}
        record["timestamp"] = record.get("timestamp", entry.get("timestamp"))
        key = f"{entry.get('recipient')}|{entry.get('timestamp')}|{index}|{_raw_json(change)}"
        record["id"] = hashlib.blake2b(key.encode(), digest_size=16).hexdigest()
        changes.append(record)
    return changes


def _subscription_line(record: Any) -> bytes:
    if not isinstance(record, dict) or not record.get("id"):
        raise BadRecord("subscription timeline entry without changes")
    recipient = record.get("recipient")
    email = normalized_email(recipient)
    if email is None:
        raise BadRecord(f"subscription change without a valid recipient: {recipient!r}")
    occurred = _from_millis(record, "timestamp")
    return activity_line(
        str(record["id"]), str(record.get("change") or ""), email, occurred, payload(record)
    )


def _raw_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


_ACTIVITY_LINES = {
    "form_submissions": _submission_line,
    "email_events": _email_event_line,
    "subscription_changes": _subscription_line,
}


def encode_activity(stream: str, records: Sequence[Any]) -> Encoded:
    """A marketing-activity stream's records as COPY lines, repeats of an id kept once."""
    id_key = "conversionId" if stream == "form_submissions" else "id"
    return first_of_each_id(encode_all(records, _ACTIVITY_LINES[stream], id_key))


def load_activity(
    conn: psycopg.Connection, stream: str, records: Sequence[Any] | Encoded, load_id: str
) -> LoadStats:
    """Insert a marketing-activity stream's records (known ids skipped)."""
    batch = records if isinstance(records, Encoded) else encode_activity(stream, records)
    return insert_new(conn, ACTIVITY_TABLES[stream], stream, batch, load_id, ACTIVITY_COLUMNS)


def retire_objects(
    conn: psycopg.Connection, stream: str, records: Sequence[Any], load_id: str
) -> LoadStats:
    """Mark objects HubSpot lists as archived; the last full source JSON stays in raw.

    The archived listing may carry fewer properties than the live read (URL limits), so a
    known row keeps its record and only gains `archived`/`archivedAt`; an object never seen
    live is stored as the archived listing returned it.
    """
    table = OBJECT_TABLES[stream]
    archived = [{**r, "archived": True} if isinstance(r, dict) else r for r in records]
    batch = encode_objects(archived)
    with conn.cursor() as cur:
        stage_objects(cur, batch.lines)
        cur.execute(
            f"""
            insert into {table} as t (id, record, updated_at, archived, _hash, _load_id)
            select distinct on (s.id) s.id, s.record::jsonb, s.updated_at, true, null,
                %(load_id)s
            from _stage_objects as s
            order by s.id, s.updated_at desc
            on conflict (id) do update
                set record = t.record || jsonb_build_object(
                        'archived', true, 'archivedAt', excluded.record -> 'archivedAt'),
                    updated_at = greatest(t.updated_at, excluded.updated_at),
                    archived = true, _hash = null,
                    _load_id = excluded._load_id, _loaded_at = now()
                where not t.archived
                   or t.record -> 'archivedAt' is distinct from excluded.record -> 'archivedAt'
            """,
            {"load_id": load_id},
        )
        changed = cur.rowcount
    return LoadStats(batch.received, changed, quarantine(conn, stream, load_id, batch.bad))


def replace_catalog(
    conn: psycopg.Connection, stream: str, definitions: Sequence[Any], load_id: str
) -> dict[str, list[Any]]:
    """Make raw.hubspot_properties the CRM's property list of `stream`, log how it differs
    from the last one (leadflow.source_schema_changes), and return what this load logged
    (added, removed, retyped names), so a retried task reports the changes its first attempt
    found. The first list logs nothing.
    """
    known = dict(
        conn.execute(
            "select name, type from raw.hubspot_properties where object_type = %s", (stream,)
        ).fetchall()
    )
    listed = {str(d["name"]): d for d in definitions if isinstance(d, dict) and d.get("name")}
    types = {name: str(d.get("type") or "") for name, d in listed.items()}
    logged = []
    if known:
        logged += [("added", n, None, types[n]) for n in sorted(types.keys() - known.keys())]
        logged += [("removed", n, known[n], None) for n in sorted(known.keys() - types.keys())]
        logged += [
            ("retyped", n, known[n], types[n])
            for n in sorted(known.keys() & types.keys())
            if known[n] != types[n]
        ]
    with conn.cursor() as cur:
        cur.execute("delete from raw.hubspot_properties where object_type = %s", (stream,))
        with cur.copy(
            "copy raw.hubspot_properties (object_type, name, type, record, _load_id) from stdin"
        ) as cp:
            for name, definition in sorted(listed.items()):
                cp.write_row((stream, name, types[name], payload(definition).decode(), load_id))
        cur.executemany(
            "insert into leadflow.source_schema_changes"
            " (stream, change, name, old_type, new_type, load_id) values (%s, %s, %s, %s, %s, %s)",
            [(stream, *row, load_id) for row in logged],
        )
        rows = cur.execute(
            "select change, name, old_type, new_type from leadflow.source_schema_changes"
            " where stream = %s and load_id = %s order by id",
            (stream, load_id),
        ).fetchall()
    return {
        "added": [n for c, n, _, _ in rows if c == "added"],
        "removed": [n for c, n, _, _ in rows if c == "removed"],
        "retyped": [[n, old, new] for c, n, old, new in rows if c == "retyped"],
    }


def record_merges(conn: psycopg.Connection, merges: Iterable[tuple[int, int]], load_id: str) -> int:
    """Remember merged-away contact ids (old -> survivor) and retire them in raw.

    HubSpot gives a merged-away id no archived record; its only trace is the survivor's
    `hs_merged_object_ids`. The old id is marked archived (its source JSON kept) and its
    associations dropped, so models count the person once and can remap events by the map.
    """
    pairs = sorted(set(merges))
    if not pairs:
        return 0
    old_ids = [old for old, _ in pairs]
    with conn.cursor() as cur:
        cur.executemany(
            """
            insert into raw.hubspot_contact_merges (old_id, survivor_id, _load_id)
            values (%s, %s, %s)
            on conflict (old_id) do update
                set survivor_id = excluded.survivor_id, _load_id = excluded._load_id,
                    _loaded_at = now()
                where hubspot_contact_merges.survivor_id <> excluded.survivor_id
            """,
            [(old, survivor, load_id) for old, survivor in pairs],
        )
        cur.execute(
            "update raw.hubspot_contacts set archived = true, _load_id = %s, _loaded_at = now()"
            " where id = any(%s) and not archived",
            (load_id, old_ids),
        )
        cur.execute(
            "delete from raw.hubspot_associations"
            " where (from_type = 'contacts' and from_id = any(%(ids)s))"
            "    or (to_type = 'contacts' and to_id = any(%(ids)s))",
            {"ids": old_ids},
        )
    return len(pairs)


def merged_ids(record: Any) -> list[tuple[int, int]]:
    """(old_id, survivor_id) pairs from a contact's `hs_merged_object_ids` ("12;34")."""
    if not isinstance(record, dict) or not isinstance(record.get("properties"), dict):
        return []
    value = record["properties"].get("hs_merged_object_ids")
    if not isinstance(value, str) or not value:
        return []
    try:
        survivor = int(str(record["id"]))
    except (KeyError, ValueError):
        return []
    return [
        (int(v), survivor)
        for v in value.split(";")
        if v.strip().isdigit() and int(v) != survivor and int(v) <= MAX_BIGINT
    ]


def replace_associations(
    conn: psycopg.Connection,
    from_type: str,
    to_type: str,
    from_ids: Sequence[int],
    links: Iterable[tuple[int, int, int]],
    load_id: str,
) -> int:
    """Make raw associations of `from_ids` towards `to_type` exactly `links`, both directions.

    HubSpot does not report removed associations, so the set for each changed object is
    replaced; the reverse rows let models join from either side.
    """
    links = list(links)
    with conn.cursor() as cur:
        cur.execute(
            """
            delete from raw.hubspot_associations
            where (from_type = %(f)s and to_type = %(t)s and from_id = any(%(ids)s))
               or (from_type = %(t)s and to_type = %(f)s and to_id = any(%(ids)s))
            """,
            {"f": from_type, "t": to_type, "ids": list(from_ids)},
        )
        with cur.copy(
            "copy raw.hubspot_associations (from_type, from_id, to_type, to_id, type_id, _load_id)"
            " from stdin"
        ) as cp:
            seen: set[tuple] = set()
            for from_id, to_id, type_id in links:
                for row in (
                    (from_type, from_id, to_type, to_id, type_id),
                    (to_type, to_id, from_type, from_id, _reverse_type(type_id)),
                ):
                    if row not in seen:
                        seen.add(row)
                        cp.write_row((*row, load_id))
    return len(links)


# HubSpot's v4 default association type ids come in pairs (contact→company 1, company→contact 2…).
_REVERSE = {1: 2, 2: 1, 3: 4, 4: 3, 5: 6, 6: 5, 279: 280, 280: 279}


def _reverse_type(type_id: int) -> int:
    return _REVERSE.get(type_id, type_id)


# The properties whose past values the lifecycle_history stream reads (propertiesWithHistory).
HISTORY_PROPERTIES = ("lifecyclestage", "hs_lead_status")
# HubSpot's stage-calculated "date entered" properties, one per lifecycle stage id: the stream
# reads them too, stored as history rows of the stage they name (source type CALCULATED).
STAGE_ENTERED_PREFIX = "hs_v2_date_entered_"


def load_history(conn: psycopg.Connection, records: Sequence[Any], load_id: str) -> LoadStats:
    """Store each contact's past lifecycle and lead-status values (one row per value and time,
    known ones skipped); a record or value that cannot be read is quarantined with why."""
    rows: list[tuple[int, str, str, datetime, str | None]] = []
    bad: list[tuple[Any, str, str]] = []
    for record in records:
        try:
            contact_id = bigint(record.get("id"), "id")
            for name, values in (record.get("propertiesWithHistory") or {}).items():
                for value in values:
                    changed = timestamp(value, "timestamp")
                    rows.append(
                        (
                            contact_id,
                            name,
                            value.get("value") or "",
                            changed,
                            value.get("sourceType"),
                        )
                    )
            for name, value in (record.get("properties") or {}).items():
                if name.startswith(STAGE_ENTERED_PREFIX) and value:
                    entered = timestamp({name: value.replace("Z", "+00:00")}, name)
                    stage = name.removeprefix(STAGE_ENTERED_PREFIX)
                    rows.append((contact_id, name, stage, entered, "CALCULATED"))
        except (BadRecord, AttributeError, TypeError) as exc:
            record_id = record.get("id") if isinstance(record, dict) else None
            bad.append((record_id, f"unreadable property history: {exc}", payload(record).decode()))
    with conn.cursor() as cur:
        cur.execute(
            "create temp table if not exists _stage_history (contact_id bigint, property text,"
            " value text, changed_at timestamptz, source_type text) on commit delete rows"
        )
        with cur.copy(
            "copy _stage_history (contact_id, property, value, changed_at, source_type) from stdin"
        ) as cp:
            for row in rows:
                cp.write_row(row)
        cur.execute(
            """
            insert into raw.hubspot_contact_history
                (contact_id, property, value, changed_at, source_type, _load_id)
            select distinct contact_id, property, value, changed_at, source_type, %(load_id)s
            from _stage_history
            on conflict (contact_id, property, changed_at, value) do nothing
            """,
            {"load_id": load_id},
        )
        changed = cur.rowcount
    return LoadStats(len(records), changed, quarantine(conn, "lifecycle_history", load_id, bad))
