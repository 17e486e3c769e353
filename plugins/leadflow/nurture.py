"""The nurture list: recycled leads go into a static list of the CRM (a re-engagement campaign
enrolls from it) and leave it when they re-qualify, are disqualified or move on.

Membership is diffed like the contacts' properties: `leadflow.list_members` holds what the CRM
last confirmed, the desired members are the validated outgoing list's nurture contacts, and
only the difference is sent, in the CRM's batches. A change the CRM did not confirm (an error,
a killed run) is not recorded, so the next run sends it again; adding a member twice or
removing a non-member is harmless, the CRM ignores it. Contacts the CRM does not have are
counted and logged, and tried again while they stay in nurture.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

import psycopg

from leadflow.batches import chunks
from leadflow.errors import ConfigError, SourceError
from leadflow.sources import CrmSession
from leadflow.stats import PushStats

log = logging.getLogger(__name__)

CHANGES_SQL = """
    with desired as (
        select contact_id from marts.crm_outgoing_contacts where leadflow_stage = 'nurture'
    ),
    held as (
        select contact_id from leadflow.list_members where list_id = %(list_id)s
    )
    select contact_id, true from desired
    where contact_id not in (select held.contact_id from held)
    union all
    select contact_id, false from held
    where contact_id not in (select desired.contact_id from desired)
    order by 1
"""


@dataclass
class Changes:
    """The membership changes the list needs now."""

    add: list[int] = field(default_factory=list)
    remove: list[int] = field(default_factory=list)


def changes(conn: psycopg.Connection, list_id: str) -> Changes:
    found = Changes()
    for contact_id, is_add in conn.execute(CHANGES_SQL, {"list_id": list_id}):
        (found.add if is_add else found.remove).append(contact_id)
    return found


def sync(
    read: psycopg.Connection,
    conn: psycopg.Connection,
    session: CrmSession,
    run_id: str,
    list_id: str,
    stats: PushStats,
    batch_size: int,
) -> None:
    """Send the list's changes; `read` is the push's validated snapshot, `conn` autocommits."""
    todo = changes(read, list_id)
    moves = [(cid, True) for cid in todo.add] + [(cid, False) for cid in todo.remove]
    for batch in chunks(moves, batch_size):
        add = [cid for cid, is_add in batch if is_add]
        remove = [cid for cid, is_add in batch if not is_add]
        try:
            change = session.change_list(list_id, add, remove)
        except SourceError as exc:
            if isinstance(exc, ConfigError):  # a token or a host to fix: the push fails
                raise
            # The list itself refused (gone, or not a static list): the contacts' push stands.
            stats.activities_failed += len(batch)
            stats.record_error(f"list {list_id}", str(exc))
            log.error("nurture list %s: %d changes not made: %s", list_id, len(batch), exc)
            continue
        missing = set(change.missing)
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(
                "insert into leadflow.list_members (list_id, contact_id, run_id)"
                " values (%s, %s, %s) on conflict do nothing",
                [(list_id, cid, run_id) for cid in add if cid not in missing],
            )
            cur.execute(
                "delete from leadflow.list_members where list_id = %s and contact_id = any(%s)",
                (list_id, remove),
            )
            cur.executemany(
                "insert into leadflow.push_log (run_id, contact_id, after, status, note)"
                " values (%s, %s, %s, 'skipped', %s)",
                [
                    (run_id, cid, json.dumps({}), f"nurture list {list_id}: not in the CRM")
                    for cid in sorted(missing)
                ],
            )
        stats.nurture_added += len(change.added)
        stats.nurture_removed += len(change.removed)
        stats.nurture_missing += len(missing)
