"""Hand-off notes for new SQLs (and optional follow-up tasks for their owners), written once.

The notes are marts.crm_handoff_notes, rendered in dbt and validated with the outgoing list;
the push reads them in the snapshot the gate sealed. Each write is recorded in
`leadflow.crm_activities` under its key: marked before its batch is sent, confirmed with the
CRM's id after. A mark without an id (a run killed mid-batch, a lost answer, an error) is
looked for in the CRM, by the reference line in the body, before it is written again. So a
re-run, a retry after a crash or an unchanged SQL writes nothing twice, and a contact that
enters SQL again has a new entry time, a new key and a new note.
"""

from __future__ import annotations

import logging
import time

import psycopg

from leadflow.batches import chunks
from leadflow.settings import PushOptions
from leadflow.sources import Activity, CrmSession
from leadflow.stats import PushStats

log = logging.getLogger(__name__)

# The notes (or tasks) of the validated SQLs not yet written: `kind` is note or task.
PENDING_SQL = """
    select n.note_key, n.contact_id, n.owner_id, n.sql_entered_at, n.note_body,
           n.task_subject, n.task_body, n.task_due_at
    from marts.crm_handoff_notes as n
    inner join marts.crm_outgoing_contacts as o
        on n.contact_id = o.contact_id and n.note_key = o.handoff_note_key
    where not exists (
        select from leadflow.crm_activities as a
        where a.activity_key = %(kind)s || ':' || n.note_key and a.object_id is not null
    )
    order by n.contact_id
"""

MARK_SQL = """
    insert into leadflow.crm_activities (activity_key, kind, contact_id, run_id)
    values (%s, %s, %s, %s)
    on conflict (activity_key) do update
        set run_id = excluded.run_id, marked_at = now(), error = null
"""


def kinds(options: PushOptions) -> list[str]:
    """What the push writes per new SQL, as the deployment chose."""
    return [k for k, on in (("note", options.handoff_notes), ("task", options.handoff_task)) if on]


def pending(conn: psycopg.Connection, kind: str) -> list[Activity]:
    """The notes or tasks the validated SQLs still need."""
    activities = []
    for ref, contact_id, owner_id, entered, note, subject, task, due in conn.execute(
        PENDING_SQL, {"kind": kind}
    ):
        is_note = kind == "note"
        activities.append(
            Activity(
                key=f"{kind}:{ref}",
                kind=kind,
                ref=ref,
                contact_id=contact_id,
                owner_id=owner_id,
                at=entered if is_note else due,
                body=note if is_note else task,
                subject="" if is_note else subject,
            )
        )
    return activities


def write(
    read: psycopg.Connection,
    conn: psycopg.Connection,
    session: CrmSession,
    run_id: str,
    options: PushOptions,
    stats: PushStats,
    batch_size: int,
) -> None:
    """Write what the new SQLs need; `read` is the push's validated snapshot, `conn` autocommits."""
    for kind in kinds(options):
        todo = pending(read, kind)
        if not todo:
            continue
        found = _find_unconfirmed(conn, session, todo, batch_size, options.inflight_settle_s)
        _confirm(conn, found)
        stats.activities_found += len(found)
        for batch in chunks([a for a in todo if a.key not in found], batch_size):
            with conn.cursor() as cur:
                cur.executemany(MARK_SQL, [(a.key, a.kind, a.contact_id, run_id) for a in batch])
            outcome = session.create_activities(batch)
            _confirm(conn, outcome.created)
            with conn.cursor() as cur:
                cur.executemany(
                    "update leadflow.crm_activities set error = %s where activity_key = %s",
                    [(error, key) for key, error in outcome.errors.items()],
                )
            written = len(outcome.created)
            if kind == "note":
                stats.notes_written += written
            else:
                stats.tasks_written += written
            stats.activities_failed += len(outcome.errors)
            for key, error in list(outcome.errors.items())[:5]:
                stats.record_error(key, error)
        if found:
            log.warning("%d %ss an interrupted push wrote were found in the CRM", len(found), kind)


def _find_unconfirmed(
    conn: psycopg.Connection,
    session: CrmSession,
    todo: list[Activity],
    batch_size: int,
    settle_s: float,
) -> dict[str, str]:
    """Of `todo`, those marked before (sent, but never confirmed) that the CRM has: after the
    marks are `settle_s` old, so a dead run's last request has landed if it was going to."""
    rows = conn.execute(
        "select activity_key, extract(epoch from marked_at + make_interval(secs => %s) - now())"
        " from leadflow.crm_activities where object_id is null and activity_key = any(%s)",
        (settle_s, [a.key for a in todo]),
    ).fetchall()
    marked = {key for key, _ in rows}
    wait_s = max((float(left) for _, left in rows), default=0.0)
    if wait_s > 0:
        log.warning("waiting %.1f s for an interrupted push's last notes to settle", wait_s)
        time.sleep(wait_s)
    found: dict[str, str] = {}
    for batch in chunks([a for a in todo if a.key in marked], batch_size):
        found |= session.find_activities(batch)
    return found


def _confirm(conn: psycopg.Connection, written: dict[str, str]) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "update leadflow.crm_activities set object_id = %s, error = null, written_at = now()"
            " where activity_key = %s",
            [(object_id, key) for key, object_id in written.items()],
        )
