"""The push, sent: the planned contacts (leadflow.plan) written to the CRM in batches, each
row's outcome recorded, and a killed run's batches recovered instead of sent twice; then the
new SQLs' hand-off notes (leadflow.handoff) and the nurture list's changes (leadflow.nurture),
from the same validated snapshot.

A batch is marked in `leadflow.push_inflight` before it is sent and unmarked in the transaction
that records its outcome. Rows still marked at the start of a run were sent by a run that died
before hearing back: they are read back from the CRM and, when the CRM already holds them,
recorded without being sent again. So a killed run plus its re-run sends each change once. The
rows sent are those the outgoing gate validated: the push reads them in one snapshot with the
gate's seal checked (leadflow.quality.verify_validated).
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

import psycopg

from leadflow import handoff, nurture
from leadflow.batches import chunks
from leadflow.db import open_connection
from leadflow.plan import changed, push_options, restore_drift
from leadflow.quality import verify_validated
from leadflow.settings import PostgresSettings, PushOptions
from leadflow.sources import Crm, CrmSession, Outcome, PushPlan
from leadflow.stats import PushStats

log = logging.getLogger(__name__)

# The CRM accepted these properties for this contact: the diff base of later runs, and what
# was sent (the payload, which leaves out what the CRM does not accept), which its values are
# compared with when it is read back.
SAVE_PUSH_STATE_SQL = """
    insert into leadflow.push_state (contact_id, properties, sent, pushed_at, run_id)
    values (%s, %s, %s, now(), %s)
    on conflict (contact_id) do update
        set properties = excluded.properties, sent = excluded.sent,
            pushed_at = excluded.pushed_at, run_id = excluded.run_id
"""

Pending = dict[Future[Outcome], list[PushPlan]]


def push(
    pg: PostgresSettings, crm: Crm, run_id: str, options: PushOptions | None = None
) -> PushStats:
    """Send every changed contact in the CRM's batches; record each row's outcome."""
    options = options or push_options(crm)
    stats = PushStats()
    started = time.monotonic()
    with crm.session() as session, open_connection(pg) as read, open_connection(pg) as write:
        write.autocommit = True
        versions = session.prepare(create_missing=True)
        _recover_inflight(session, crm.batch_size, write, run_id, stats, options.inflight_settle_s)
        drift = restore_drift(write, crm, versions, run_id)
        stats.restored, stats.recreated_properties = drift.contacts, list(drift.recreated)
        # One snapshot, taken after the recovery wrote its rows, for the check and the read:
        # what is sent is what the gate validated.
        read.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        verify_validated(read, run_id)
        with ThreadPoolExecutor(max_workers=options.workers) as pool:
            pending: Pending = {}
            batch: list[PushPlan] = []
            for item in changed(read, session, options):
                stats.changed += 1
                batch.append(item)
                if len(batch) == crm.batch_size:
                    _submit(pool, pending, session, write, run_id, batch, options)
                    batch = []
                    if len(pending) >= options.workers:
                        _drain(pending, write, run_id, stats, FIRST_COMPLETED)
            if batch:
                _submit(pool, pending, session, write, run_id, batch, options)
            _drain(pending, write, run_id, stats)
        handoff.write(read, write, session, run_id, options, stats, crm.batch_size)
        if options.nurture_list_id:
            nurture.sync(
                read, write, session, run_id, options.nurture_list_id, stats, crm.list_batch_size
            )
        stats.requests = session.requests_sent
    stats.finish(time.monotonic() - started)
    log.info("push %s", stats.as_dict())
    return stats


def _submit(
    pool: ThreadPoolExecutor,
    pending: Pending,
    session: CrmSession,
    conn: psycopg.Connection,
    run_id: str,
    batch: list[PushPlan],
    options: PushOptions,
) -> None:
    _mark_inflight(conn, run_id, batch)
    pending[pool.submit(session.send, batch, options)] = batch


def _drain(
    pending: Pending,
    conn: psycopg.Connection,
    run_id: str,
    stats: PushStats,
    return_when: str = "ALL_COMPLETED",
) -> None:
    done, _ = wait(list(pending), return_when=return_when)
    for future in done:
        batch = pending.pop(future)
        _record(conn, run_id, batch, future.result(), stats)


def _mark_inflight(conn: psycopg.Connection, run_id: str, batch: list[PushPlan]) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            """
            insert into leadflow.push_inflight (contact_id, run_id, after, payload)
            values (%s, %s, %s, %s)
            on conflict (contact_id) do update
                set run_id = excluded.run_id, after = excluded.after,
                    payload = excluded.payload, marked_at = now()
            """,
            [(p.contact_id, run_id, json.dumps(p.after), json.dumps(p.payload)) for p in batch],
        )


def _record(
    conn: psycopg.Connection,
    run_id: str,
    batch: list[PushPlan],
    outcome: Outcome,
    stats: PushStats,
) -> None:
    """One transaction per batch: new push_state, the audit rows, and the in-flight mark gone."""
    ok = [p for p in batch if p.contact_id not in outcome.errors]
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            SAVE_PUSH_STATE_SQL,
            [(p.contact_id, json.dumps(p.after), json.dumps(p.payload), run_id) for p in ok],
        )
        cur.executemany(
            "insert into leadflow.push_log"
            " (run_id, contact_id, before, after, status, error, note)"
            " values (%s, %s, %s, %s, %s, %s, %s)",
            [_log_row(run_id, p, outcome) for p in batch],
        )
        cur.execute(
            "delete from leadflow.push_inflight where contact_id = any(%s)",
            ([p.contact_id for p in batch],),
        )
    stats.batches += 1
    stats.pushed += sum(1 for p in ok if p.payload)
    stats.failed += len(batch) - len(ok)
    stats.created += len(outcome.created)
    stats.cleared += outcome.cleared
    stats.dropped_properties += sum(1 for p in batch for n in p.notes if " not sent" in n)
    stats.sql_pushed += sum(1 for p in ok if p.after.get("leadflow_stage") == "sql")
    stats.new_sql += sum(1 for p in ok if _is_new_sql(p))
    for contact_id, error in outcome.errors.items():
        stats.record_error(contact_id, error)


def _is_new_sql(p: PushPlan) -> bool:
    return (
        p.after.get("leadflow_stage") == "sql" and (p.before or {}).get("leadflow_stage") != "sql"
    )


def _log_row(run_id: str, p: PushPlan, outcome: Outcome) -> tuple[Any, ...]:
    error = outcome.errors.get(p.contact_id)
    notes = list(p.notes)
    if p.contact_id in outcome.created:
        notes.append(f"upserted by email as CRM contact {outcome.created[p.contact_id]}")
    status = "error" if error else "created" if p.contact_id in outcome.created else "ok"
    if not p.payload and not error:
        status = "skipped"
    return (
        run_id,
        p.contact_id,
        json.dumps(p.before) if p.before is not None else None,
        json.dumps(p.payload),
        status,
        error,
        "; ".join(notes) or None,
    )


# -- recovery of a killed run ----------------------------------------------------------------


def _recover_inflight(
    session: CrmSession,
    batch_size: int,
    conn: psycopg.Connection,
    run_id: str,
    stats: PushStats,
    settle_s: float,
) -> None:
    """Rows a dead run sent without hearing back: record those the CRM already holds."""
    rows = conn.execute(
        "select contact_id, after, payload from leadflow.push_inflight order by contact_id"
    ).fetchall()
    if not rows:
        return
    wait_s = conn.execute(
        "select extract(epoch from max(marked_at) + make_interval(secs => %s) - now())::float8"
        " from leadflow.push_inflight",
        (settle_s,),
    ).fetchone()[0]
    if wait_s > 0:
        log.warning("waiting %.1f s for a dead push's last requests to settle", wait_s)
        time.sleep(wait_s)
    confirmed: list[tuple[int, dict[str, Any], dict[str, str]]] = []
    for chunk in chunks(rows, batch_size):
        names = sorted({n for _, _, payload in chunk for n in payload})
        crm = session.read_back([cid for cid, _, _ in chunk], names)
        for contact_id, after, payload in chunk:
            held = crm.get(contact_id)
            if held is not None and all(
                session.holds(k, v, held.get(k)) for k, v in payload.items()
            ):
                confirmed.append((contact_id, after, payload))
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            SAVE_PUSH_STATE_SQL,
            [
                (cid, json.dumps(after), json.dumps(payload), run_id)
                for cid, after, payload in confirmed
            ],
        )
        cur.executemany(
            "insert into leadflow.push_log (run_id, contact_id, after, status, note)"
            " values (%s, %s, %s, 'confirmed', %s)",
            [
                (run_id, cid, json.dumps(payload), "sent by an interrupted run; CRM holds it")
                for cid, _, payload in confirmed
            ],
        )
        cur.execute("delete from leadflow.push_inflight")
    stats.recovered = len(confirmed)
    log.warning(
        "%d contacts were in flight when a push died: %d confirmed in the CRM, %d will be resent",
        len(rows),
        len(confirmed),
        len(rows) - len(confirmed),
    )
