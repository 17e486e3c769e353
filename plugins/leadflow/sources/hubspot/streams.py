"""HubSpot's streams: what each reads into `raw` for a data interval, idempotent on it.

Each stream reads the window [min(cursor, interval start) - lookback, interval end): a re-run or
a backfill of any past interval re-reads exactly that interval, and the small lookback absorbs
HubSpot's search-index lag. Batches are committed as they arrive (upserts make repeats
harmless, so a killed run re-done gives the same tables); the cursor moves only after the whole
window has been loaded and committed.

What a CRM stream reads for its window:
- live objects modified in it: the search API keyed on (hs_lastmodifieddate, hs_object_id); a
  first full load instead pages the list API (100 per page, no 10,000 cap, not under the
  search API's 4-5 requests/s limit) when the property list fits in a URL;
- objects archived in it (`archived=true`, by `archivedAt`): marked archived in raw, their
  last source JSON kept; contacts merged away are retired through the survivor's
  `hs_merged_object_ids` (raw.hubspot_contact_merges);
- the associations of every changed object, replaced in both directions.
The engagements stream (the sales activity) reads the five engagement types as CRM objects, one
after another under one cursor. The marketing streams read what every tier has: each form's
submissions (newest first, stopping at the window's start: the API has no date filter), and the
email events and subscription timeline of the window. The events stream reads wider:
late-recorded events and implausible dates (event_windows). A portal may refuse an optional
stream's API (events v3 below Enterprise, forms or marketing email without their scope): that
stream is skipped with the reason and the run goes on.
Properties come from the Properties API on every run, so a new CRM property lands in `raw` with
no code change. Pages are fetched in a background thread while the previous batch is loaded,
and every client on one token shares one request budget.

Why by hand and not dlt: see docs/adr/0001-extract-by-hand-or-dlt.md.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any

import psycopg

from leadflow.db import connect
from leadflow.extract import batches, finish_stream, prefetched, start_stream
from leadflow.load import Encoded, load_concurrently
from leadflow.settings import PostgresSettings
from leadflow.sources.hubspot import ENGAGEMENT_TYPES, MARKETING_STREAMS, STREAMS
from leadflow.sources.hubspot.client import OPTIONAL_APIS, HubSpotClient, parse_ts, to_millis
from leadflow.sources.hubspot.raw import (
    EVENTS_FUTURE_SLACK,
    EVENTS_SINCE,
    HISTORY_PROPERTIES,
    STAGE_ENTERED_PREFIX,
    encode_activity,
    encode_events,
    encode_objects,
    load_activity,
    load_events,
    load_history,
    load_objects,
    merged_ids,
    record_merges,
    replace_associations,
    replace_catalog,
    retire_objects,
    subscription_changes,
)
from leadflow.sources.hubspot.settings import HubSpotSettings
from leadflow.stats import ExtractStats, LoadStats

log = logging.getLogger(__name__)

LOOKBACK = timedelta(minutes=10)
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
# A window of occurredAt; None leaves that side open.
Window = tuple[datetime | None, datetime | None]
# Longest comma-joined property list sent in a GET query string; longer lists make HubSpot
# answer 414, so such portals do their first load through search (POST body) instead.
MAX_URL_PROPERTIES = 2000
# Contacts per history batch read: HubSpot reads fewer objects per request with history.
HISTORY_BATCH = 50

# Associations each CRM object type refreshes for its changed objects.
ASSOCIATIONS = {
    "contacts": ("companies",),
    "deals": ("contacts", "companies"),
    **{engagement: ("contacts",) for engagement in ENGAGEMENT_TYPES},
}
# Properties every stream needs whatever the Properties API says.
REQUIRED_PROPERTIES = {
    "contacts": ("hs_lastmodifieddate", "hs_object_id", "hs_merged_object_ids"),
    "companies": ("hs_lastmodifieddate", "hs_object_id"),
    "deals": ("hs_lastmodifieddate", "hs_object_id"),
    **{
        engagement: ("hs_lastmodifieddate", "hs_object_id", "hs_timestamp")
        for engagement in ENGAGEMENT_TYPES
    },
}


@dataclass
class Tagged:
    """A record and how it was read: live (upsert) or archived (retire)."""

    record: Any
    archived: bool = False


def window_for(
    cursor: datetime | None, start: datetime, end: datetime
) -> tuple[datetime, datetime]:
    if cursor is None:
        return EPOCH, end
    return min(cursor, start) - LOOKBACK, end


def event_windows(
    cursor: datetime | None, start: datetime, end: datetime, hs: HubSpotSettings
) -> list[Window]:
    """The occurredAt windows the events stream reads for the interval [start, end).

    HubSpot lists events by occurrence time only, so one it records late lies behind the
    cursor. Each run reads back `events_lookback_minutes` before the cursor and one hour at
    each of `events_rescan_hours` lags; known ids are skipped by the loader. Two open-ended
    windows find events whose dates are implausible (before EVENTS_SINCE, or well after the
    interval): they are quarantined with the reason (once each), not lost. A first load
    reads everything up to the interval's end.
    """
    # occurredAfter is inclusive and HubSpot's times have milliseconds: strictly after the slack.
    future: Window = (end + EVENTS_FUTURE_SLACK + timedelta(milliseconds=1), None)
    if cursor is None:
        return [(None, end), future]
    low = min(cursor, start) - timedelta(minutes=hs.events_lookback_minutes)
    windows: list[Window] = [(low, end)]
    for hours in sorted(set(hs.events_rescan_hours)):
        lag = timedelta(hours=hours)
        slice_start, slice_end = start - lag, min(end - lag, low)
        if slice_start < slice_end:
            windows.append((slice_start, slice_end))
    return [*windows, (None, EVENTS_SINCE), future]


def extract_stream(
    stream: str,
    pg: PostgresSettings,
    hs: HubSpotSettings,
    interval_start: datetime,
    interval_end: datetime,
    load_id: str,
) -> ExtractStats:
    """Extract and load one stream for one data interval."""
    if stream not in STREAMS:
        raise ValueError(f"unknown stream {stream!r}; expected one of {STREAMS}")
    cursor = start_stream(pg, stream, load_id)
    start, end = window_for(cursor, interval_start, interval_end)
    stats = ExtractStats(stream)
    with HubSpotClient(hs) as client:
        if stream in OPTIONAL_APIS and (refusal := client.refusal(stream)):
            return _unavailable(stats, client, refusal)
        full = cursor is None
        if stream == "events":
            windows = event_windows(cursor, interval_start, interval_end, hs)
            records, stats.mode = chain.from_iterable(client.events(*w) for w in windows), "events"
            start = windows[0][0] or EPOCH
            _load(pg, client, stream, records, interval_end, load_id, stats)
        elif stream == "lifecycle_history":
            records, stats.mode = _history_records(client, start, end, full)
            _load(pg, client, stream, records, interval_end, load_id, stats)
        elif stream in MARKETING_STREAMS:
            records, stats.mode = _marketing_records(client, stream, start, end)
            _load(pg, client, stream, records, interval_end, load_id, stats)
        elif stream == "owners":
            # Owners are few and have no search endpoint: read them all every run.
            owners = chain(client.owners(), client.owners(archived=True))
            records, stats.mode = (Tagged(o) for o in owners), "list"
            _load(pg, client, stream, records, interval_end, load_id, stats)
        else:
            # A CRM stream reads its object type; the engagements stream each engagement
            # type in turn, under one cursor.
            for object_type in ENGAGEMENT_TYPES if stream == "engagements" else (stream,):
                records = _crm_records(pg, client, object_type, start, end, full, load_id, stats)
                _load(pg, client, object_type, records, interval_end, load_id, stats)
        finish_stream(pg, stats, interval_end, load_id)
        stats.requests, stats.throttled = client.requests_sent, client.throttled
        stats.retried = client.retried
    stats.window_start, stats.window_end = start.isoformat(), end.isoformat()
    return stats


def _crm_records(
    pg: PostgresSettings,
    client: HubSpotClient,
    object_type: str,
    start: datetime,
    end: datetime,
    full: bool,
    load_id: str,
    stats: ExtractStats,
) -> Iterator[Tagged]:
    """Store the type's property list (and note what changed), then read its window."""
    definitions = client.properties(object_type)
    with connect(pg) as conn:
        changes = replace_catalog(conn, object_type, definitions, load_id)
    for change, names in changes.items():
        prefix = "" if object_type == stats.stream else f"{object_type}."
        stats.schema_changes.setdefault(change, []).extend(
            f"{prefix}{n}" if isinstance(n, str) else [f"{prefix}{n[0]}", *n[1:]] for n in names
        )
    discovered = [d["name"] for d in definitions]
    records, stats.mode = _records(client, object_type, discovered, start, end, full)
    return records


def _load(
    pg: PostgresSettings,
    client: HubSpotClient,
    object_type: str,
    records: Iterable[Any],
    interval_end: datetime,
    load_id: str,
    stats: ExtractStats,
) -> None:
    """Encode and load `records` of one type in batches, adding their counts to `stats`."""
    latest = interval_end + EVENTS_FUTURE_SLACK
    loaded = load_concurrently(
        pg,
        prefetched(_encoded(object_type, batches(records), latest)),
        lambda conn, item: _load_batch(conn, client, object_type, *item, load_id),
    )
    for batch_stats, archived, merged in loaded:
        stats.add(batch_stats)
        stats.archived += archived
        stats.merged += merged


def _unavailable(stats: ExtractStats, client: HubSpotClient, refusal: str) -> ExtractStats:
    """An optional stream on a portal that refuses its API: skipped, its cursor unmoved, so
    a portal that upgrades (or a token given the scope) reads it from the start."""
    label, _, _, needs = OPTIONAL_APIS[stats.stream]
    stats.mode, stats.unavailable = "unavailable", f"{label}: {refusal} ({label} needs {needs})"
    stats.requests = client.requests_sent
    log.info("%s stream skipped: %s", stats.stream, stats.unavailable)
    return stats


def _history_records(
    client: HubSpotClient, start: datetime, end: datetime, full: bool
) -> tuple[Iterator[Any], str]:
    """Contacts with their lifecycle and lead-status history and the stage-entered dates
    HubSpot calculates: every contact on a first load (listed with propertiesWithHistory),
    else those modified in the window, read back in batches of 50 with it (search does not
    return history)."""
    entered = [
        d["name"]
        for d in client.properties("contacts")
        if str(d.get("name", "")).startswith(STAGE_ENTERED_PREFIX)
    ]
    props = ["hs_object_id", *sorted(entered)]
    if full:
        return client.list_objects("contacts", props, history=HISTORY_PROPERTIES), "list"
    changed = (
        int(r["id"]) for r in client.search_modified("contacts", ["hs_object_id"], start, end)
    )
    return (
        record
        for ids in batches(changed, HISTORY_BATCH)
        for record in client.batch_read_history("contacts", ids, props, HISTORY_PROPERTIES)
    ), "search"


def _marketing_records(
    client: HubSpotClient, stream: str, start: datetime, end: datetime
) -> tuple[Iterator[Any], str]:
    """A marketing stream's records of [start, end); submissions carry their form's id and name
    (the submissions API names neither)."""
    if stream == "email_events":
        return client.email_events(start, end), "window"
    if stream == "subscription_changes":
        entries = client.subscription_changes(start, end)
        return chain.from_iterable(subscription_changes(e) for e in entries), "window"
    end_ms = to_millis(end)

    def submissions() -> Iterator[Any]:
        for form in client.forms():
            for submission in client.form_submissions(form["id"], start):
                submitted = submission.get("submittedAt") if isinstance(submission, dict) else None
                if isinstance(submitted, int) and submitted >= end_ms:
                    continue  # a later interval's: re-runs read exactly their own
                if isinstance(submission, dict):
                    submission = {**submission, "formId": form["id"], "formName": form.get("name")}
                yield submission

    return submissions(), "newest-first"


def _encoded(
    stream: str, batches: Iterator[list[Any]], latest_event: datetime
) -> Iterator[tuple[list[Any], Encoded]]:
    """Each batch with its records checked and encoded for COPY.

    This runs in the prefetch thread, so Python's encoding of the next batch overlaps
    Postgres writing the current one (bench/load_bench.py).
    """
    for batch in batches:
        if stream == "events":
            yield batch, encode_events(batch, latest_event)
        elif stream == "lifecycle_history":
            yield batch, Encoded(len(batch), [], [])  # load_history reads the records
        elif stream in MARKETING_STREAMS:
            yield batch, encode_activity(stream, batch)
        else:
            yield batch, encode_objects([t.record for t in batch if not t.archived])


def _load_batch(
    conn: psycopg.Connection,
    client: HubSpotClient,
    stream: str,
    batch: list[Any],
    encoded: Encoded,
    load_id: str,
) -> tuple[LoadStats, int, int]:
    """One transaction: objects, retirements, merges and associations of one batch. Returns
    its counts (and archived, merged), not added up here, because a batch that collides with
    another is re-run."""
    if stream == "events":
        return load_events(conn, encoded, load_id), 0, 0
    if stream == "lifecycle_history":
        return load_history(conn, batch, load_id), 0, 0
    if stream in MARKETING_STREAMS:
        return load_activity(conn, stream, encoded, load_id), 0, 0
    live = [t.record for t in batch if not t.archived]
    gone = [t.record for t in batch if t.archived]
    stats = load_objects(conn, stream, encoded, load_id)
    archived = merged = 0
    if gone:
        retired = retire_objects(conn, stream, gone, load_id)
        stats.add(retired)
        archived = retired.received - retired.quarantined
    if stream == "contacts":
        merged = record_merges(conn, (pair for r in live for pair in merged_ids(r)), load_id)
    if stream in ASSOCIATIONS:
        linked = _refresh_associations(conn, client, stream, live, _ids(gone), load_id)
        if stream in ENGAGEMENT_TYPES:
            stats.unlinked += len(set(_ids(live)) - linked)
    return stats, archived, merged


def _records(
    client: HubSpotClient,
    stream: str,
    discovered: list[str],
    start: datetime,
    end: datetime,
    full: bool,
) -> tuple[Iterator[Any], str]:
    """A CRM stream's live and archived records of the window, and how they are read."""
    props = sorted({*discovered, *REQUIRED_PROPERTIES[stream]})
    fits_url = len(",".join(props)) <= MAX_URL_PROPERTIES
    if full and fits_url:
        live = (r for r in client.list_objects(stream, props) if start <= _modified(r) < end)
        mode = "list"
    else:
        live = client.search_modified(stream, props, start, end)
        mode = "search"
    archived_props = props if fits_url else list(REQUIRED_PROPERTIES[stream])
    archived = (
        r
        for r in client.list_objects(stream, archived_props, archived=True)
        if start <= _archived_at(r) < end
    )
    return chain((Tagged(r) for r in live), (Tagged(r, True) for r in archived)), mode


def _modified(record: dict[str, Any]) -> datetime:
    """When a record last changed; unparseable ones sort into every window (quarantine)."""
    if not isinstance(record, dict):
        return EPOCH
    props = record.get("properties")
    value = (props if isinstance(props, dict) else {}).get("hs_lastmodifieddate")
    try:
        return parse_ts(str(value or record.get("updatedAt")))
    except ValueError:
        return EPOCH


def _archived_at(record: dict[str, Any]) -> datetime:
    if not isinstance(record, dict):
        return EPOCH
    try:
        return parse_ts(str(record.get("archivedAt") or record.get("updatedAt")))
    except ValueError:
        return EPOCH


def _ids(records: Iterable[Any]) -> list[int]:
    return sorted(
        {int(r["id"]) for r in records if isinstance(r, dict) and str(r.get("id", "")).isdigit()}
    )


def _refresh_associations(
    conn: psycopg.Connection,
    client: HubSpotClient,
    stream: str,
    live: list[Any],
    archived_ids: list[int],
    load_id: str,
) -> set[int]:
    """Replace the links of changed objects (archived objects keep none); the ids that have
    at least one."""
    ids, linked = _ids(live), set()
    for to_type in ASSOCIATIONS[stream]:
        links = list(client.associations(stream, to_type, ids)) if ids else []
        linked.update(from_id for from_id, _, _ in links)
        replace_associations(conn, stream, to_type, ids, links, load_id)
        if archived_ids:
            replace_associations(conn, stream, to_type, archived_ids, (), load_id)
    return linked
