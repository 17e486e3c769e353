"""The push, planned: which contacts the CRM must change and why, decided in SQL against what was
last written (`leadflow.push_state`) and what the CRM holds; the dry run; the breaker's counts.

The diff base is the last state the CRM accepted per contact, so a push sends only contacts
whose outgoing properties changed, and a row the CRM rejected (or a killed run never sent)
stays different and is retried on every later run until it lands. Values the CRM lost (cleared
there, or a leadflow property deleted and created again) are marked lost in push_state first
(`restore_drift`), so the same diff sends them again. The CRM's own rules (what it accepts, how
its lifecycle moves) are its session's: `leadflow.sources.CrmSession.decide`. Sending is
leadflow.send.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg

from leadflow import handoff, nurture
from leadflow.batches import chunks
from leadflow.db import open_connection
from leadflow.settings import PostgresSettings, PushOptions, read
from leadflow.sources import Activity, Crm, CrmSession, PushPlan

log = logging.getLogger(__name__)

# leadflow's outgoing properties: the names the push writes and push_state keeps.
OUTGOING = (
    "leadflow_stage",
    "leadflow_score",
    "leadflow_fit_grade",
    "leadflow_reasons",
    "leadflow_stage_entered_at",
    "leadflow_stage_reason",
)


def outgoing_values(
    stage: str,
    score: str,
    grade: str,
    reasons: str,
    entered_at: str,
    stage_reason: str,
    extra: str = "",
) -> str:
    """SQL building leadflow's properties as the push writes them (text, timestamps in UTC
    with milliseconds): for the outgoing list, and for what the CRM holds, so that the two
    compare equal exactly when the CRM holds what was sent."""
    return f"""jsonb_strip_nulls(jsonb_build_object(
            'leadflow_stage', {stage},
            'leadflow_score', ({score})::text,
            'leadflow_fit_grade', {grade},
            'leadflow_reasons', {reasons},
            'leadflow_stage_entered_at',
                to_char({entered_at} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
            'leadflow_stage_reason', {stage_reason}{extra}
        ))"""


# The desired CRM state per contact, built in SQL so the diff is one set-based query.
_DESIRED_PROPERTIES = outgoing_values(
    "leadflow_stage",
    "leadflow_score",
    "leadflow_fit_grade",
    "leadflow_reasons",
    "leadflow_stage_entered_at",
    "leadflow_stage_reason",
    extra=", 'lifecyclestage', lifecyclestage",
)
DESIRED_SQL = f"""
    select contact_id, email, current_lifecyclestage, {_DESIRED_PROPERTIES} as properties
    from marts.crm_outgoing_contacts
"""

CHANGED_SQL = f"""
    with desired as ({DESIRED_SQL})
    select
        d.contact_id, d.email, d.current_lifecyclestage, d.properties, s.properties as before,
        (select l.error from leadflow.push_log as l
         where l.contact_id = d.contact_id
         order by l.logged_at desc, l.id desc limit 1) as last_error
    from desired as d
    left join leadflow.push_state as s using (contact_id)
    where s.properties is distinct from d.properties
    order by d.contact_id
"""

# What the volume circuit breaker judges: the same diff, counted, and what the CRM holds.
COUNT_CHANGES_SQL = f"""
    with desired as ({DESIRED_SQL}),
    changes as (
        select
            d.*,
            s.properties is distinct from d.properties as changed,
            s.properties ->> 'leadflow_stage' as stage_before
        from desired as d
        left join leadflow.push_state as s using (contact_id)
    )
    select
        count(*) filter (where changed),
        count(*) filter (
            where changed and properties ->> 'leadflow_stage' = 'sql'
              and stage_before is distinct from 'sql'
        ),
        count(*) filter (
            where changed and properties ->> 'leadflow_stage' in ('mql', 'sql')
              and properties ->> 'lifecyclestage' is distinct from current_lifecyclestage
        ),
        count(*),
        not exists (select from leadflow.push_state)
    from changes
"""


@dataclass(frozen=True)
class ChangeCounts:
    """What a push would do now: changed rows, new SQLs, contacts it would move into MQL or
    SQL in the CRM (compared with the lifecyclestage the CRM holds), contacts in the list,
    and whether nothing was ever pushed to this CRM."""

    changed: int
    new_sql: int
    qualifying_moves: int
    contacts: int
    first_push: bool


def count_changes(pg: PostgresSettings) -> ChangeCounts:
    """What a push would send now; for the volume circuit breaker."""
    with open_connection(pg) as conn:
        changed, new_sql, moves, contacts, first = conn.execute(COUNT_CHANGES_SQL).fetchone()
    return ChangeCounts(int(changed), int(new_sql), int(moves), int(contacts), bool(first))


def push_options(crm: Crm) -> PushOptions:
    """The push options: the CRM connection's extra, env vars override."""
    return read(PushOptions, crm.extra(), "the CRM connection")


# -- the changed contacts, planned -------------------------------------------------------------


def changed(
    conn: psycopg.Connection, session: CrmSession, options: PushOptions
) -> Iterator[PushPlan]:
    """The changed contacts, planned, read through a server-side cursor."""
    shared = _shared_emails(conn) if options.create_missing else frozenset()
    cur = conn.cursor(name="leadflow_push_changed")
    try:
        cur.execute(CHANGED_SQL)
        for contact_id, email, current, after, before, last_error in cur:
            plan = PushPlan(contact_id, email, current, before, after)
            plan.reasons.append(_why(before, after, last_error))
            if lost := _lost(before):
                plan.notes.append(f"restore: the CRM lost {', '.join(lost)}")
            plan.email_shared = email in shared
            session.decide(plan, options)
            yield plan
    finally:
        # Closing a server-side cursor needs the server: after a lost connection (the error
        # the caller is already handling) there is nothing left to close.
        with contextlib.suppress(psycopg.OperationalError):
            cur.close()


def _shared_emails(conn: psycopg.Connection) -> frozenset[str]:
    """Emails that more than one contact of the outgoing list has (upserts skip them)."""
    rows = conn.execute(
        "select email from marts.crm_outgoing_contacts where email is not null"
        " group by email having count(*) > 1"
    ).fetchall()
    return frozenset(r[0] for r in rows)


def _why(before: dict[str, Any] | None, after: dict[str, Any], last_error: str | None) -> str:
    if before is None:
        return "first push"
    lost = _lost(before)
    changed = sorted(
        k for k in {*before, *after} if before.get(k) != after.get(k) and k not in lost
    )
    if changed:
        return "changed: " + ", ".join(changed)
    if lost:
        return "unchanged, but the CRM lost its values"
    return f"retry after rejection ({last_error[:80]})" if last_error else "changed"


def _lost(before: dict[str, Any] | None) -> list[str]:
    """Properties restore_drift marked lost in the CRM (null in push_state)."""
    return sorted(k for k, v in (before or {}).items() if v is None)


# -- values lost in the CRM --------------------------------------------------------------------

# Contacts read back from the CRM after their last push (and since the last check) whose values
# of leadflow's properties are not what was sent, with the names that differ. The differing
# names are marked lost (null) in push_state, so the diff sends them again and a rejected
# restore is retried like any rejected row.
MARK_LOST_SQL = """
    with held as (
        select contact_id, loaded_at, {held} as held
        from {relation}
        where loaded_at > %(since)s and not is_archived
    ),
    drifted as (
        select s.contact_id, jsonb_object_agg(sent.key, null) as lost
        from held as h
        inner join leadflow.push_state as s
            on h.contact_id = s.contact_id and h.loaded_at > s.pushed_at
        cross join lateral jsonb_each_text(coalesce(s.sent, s.properties)) as sent
        where sent.key = any(%(names)s)
          and (h.held ->> sent.key) is distinct from nullif(trim(sent.value), '')
        group by s.contact_id
    )
    update leadflow.push_state as s
    set properties = s.properties || drifted.lost
    from drifted
    where s.contact_id = drifted.contact_id
    returning s.contact_id
"""


@dataclass(frozen=True)
class Drift:
    """What the CRM lost since the last check: contacts whose leadflow values are sent again,
    and leadflow properties deleted (and created again) there."""

    contacts: int = 0
    recreated: tuple[str, ...] = ()


def restore_drift(
    conn: psycopg.Connection, crm: Crm, versions: dict[str, str], run_id: str
) -> Drift:
    """Mark values the CRM no longer holds as lost in push_state, so this push restores them.

    Two ways values get lost without leadflow hearing of it from its own diff: someone clears
    or edits leadflow's fields (the contacts are then read back changed: compared with what
    was sent), or deletes a leadflow property and creates it again (no contact changes: the
    property's version, `versions` from CrmSession.prepare, does). The first check only
    starts the watermark.
    """
    with conn.transaction():
        (since,) = conn.execute("select max(checked_at) from leadflow.crm_drift_checks").fetchone()
        (staged,) = conn.execute(
            "select to_regclass(%s) is not null", (crm.held_relation,)
        ).fetchone()
        restored: set[int] = set()
        if since is not None and staged:
            held = outgoing_values(**crm.held_columns)
            sql = MARK_LOST_SQL.format(held=held, relation=crm.held_relation)
            rows = conn.execute(sql, {"since": since, "names": list(OUTGOING)})
            restored.update(r[0] for r in rows)
        recreated = _recreated(conn, versions)
        if recreated:
            rows = conn.execute(
                """
                update leadflow.push_state
                set properties = properties || (
                    select jsonb_object_agg(name, null) from unnest(%(names)s::text[]) as name
                    where properties ? name
                )
                where properties ?| %(names)s::text[]
                returning contact_id
                """,
                {"names": list(recreated)},
            )
            restored.update(r[0] for r in rows)
        conn.execute(
            "insert into leadflow.crm_drift_checks"
            " (run_id, contacts_restored, properties_recreated) values (%s, %s, %s)",
            (run_id, len(restored), list(recreated)),
        )
    drift = Drift(len(restored), recreated)
    if drift.contacts:
        log.warning(
            "the CRM lost leadflow values of %d contacts (properties created again: %s):"
            " they are pushed again",
            drift.contacts,
            ", ".join(recreated) or "none",
        )
    return drift


def _recreated(conn: psycopg.Connection, versions: dict[str, str]) -> tuple[str, ...]:
    """leadflow's properties whose CRM version is gone or other than the one last seen."""
    seen = dict(conn.execute("select name, created_at from leadflow.crm_properties").fetchall())
    with conn.cursor() as cur:
        cur.executemany(
            """
            insert into leadflow.crm_properties (name, created_at) values (%s, %s)
            on conflict (name) do update
                set created_at = excluded.created_at, seen_at = now()
            """,
            sorted(versions.items()),
        )
    return tuple(sorted(name for name, version in seen.items() if versions.get(name) != version))


# -- the dry run -------------------------------------------------------------------------------


@dataclass
class Writes:
    """What a push would write besides the contacts' properties: the new SQLs' hand-off notes
    and tasks, and the nurture list's changes (an empty list id: no nurture list)."""

    activities: list[Activity]
    list_id: str
    nurture: nurture.Changes


def writes(pg: PostgresSettings, crm: Crm, options: PushOptions | None = None) -> Writes:
    """The notes, tasks and list changes the next push would write. Writes nothing."""
    options = options or push_options(crm)
    with open_connection(pg) as conn:
        activities = [a for kind in handoff.kinds(options) for a in handoff.pending(conn, kind)]
        changes = (
            nurture.changes(conn, options.nurture_list_id)
            if options.nurture_list_id
            else nurture.Changes()
        )
    return Writes(activities, options.nurture_list_id, changes)


def format_writes(planned: Writes, limit: int | None = None) -> str:
    """The notes, tasks and memberships for a person: one line each, then the counts."""
    lines, head = [], slice(limit)
    for a in planned.activities[head]:
        what = f"task due {a.at:%Y-%m-%d %H:%M}" if a.kind == "task" else "hand-off note"
        owner = f", owner {a.owner_id}" if a.owner_id is not None else ""
        lines.append(f"{a.kind:<6} contact {a.contact_id}  {what} ({a.ref}{owner})")
    if planned.list_id:
        for cid in planned.nurture.add[head]:
            lines.append(f"list   contact {cid}  add to nurture list {planned.list_id}")
        for cid in planned.nurture.remove[head]:
            lines.append(f"list   contact {cid}  remove from nurture list {planned.list_id}")
    notes = sum(1 for a in planned.activities if a.kind == "note")
    lines.append(
        f"{notes} hand-off notes, {len(planned.activities) - notes} tasks"
        + (
            f"; nurture list {planned.list_id}: {len(planned.nurture.add)} to add, "
            f"{len(planned.nurture.remove)} to remove"
            if planned.list_id
            else "; no nurture list set (nurture_list_id)"
        )
        + "; nothing was written"
    )
    return "\n".join(lines)


def plan(pg: PostgresSettings, crm: Crm, options: PushOptions | None = None) -> list[PushPlan]:
    """What a push would send now and why. Reads the CRM, writes nothing."""
    options = options or push_options(crm)
    with crm.session() as session:
        versions = session.prepare(create_missing=False)
        with open_connection(pg) as conn, conn.transaction(force_rollback=True):
            # The push's own marking of lost values, undone: the plan shows the restores.
            restore_drift(conn, crm, versions, "plan")
            plans = list(changed(conn, session, options))
        for chunk in chunks(plans, crm.batch_size):
            found = session.exists([p.contact_id for p in chunk])
            for p in chunk:
                if p.contact_id in found:
                    continue
                p.create = bool(options.create_missing and p.email and not p.email_shared)
                p.notes.append(
                    "not in the CRM: upsert by email"
                    if p.create
                    else f"not in the CRM, and {p.email} is the email of other contacts too:"
                    " rejected, never upserted"
                    if p.email_shared and options.create_missing
                    else "not in the CRM: rejected until it exists (see push_create_missing)"
                )
    return plans


def format_plan(plans: list[PushPlan], limit: int | None = None) -> str:
    """The dry run for a person: per contact the action, stage move, score and reasons."""
    lines = []
    for p in plans[:limit] if limit else plans:
        before = p.before or {}
        stage = f"{before.get('leadflow_stage', '-')} -> {p.after.get('leadflow_stage', '-')}"
        life = f"{p.current_lifecyclestage or '-'} -> {p.lifecycle_after or '-'}"
        score = f"{before.get('leadflow_score', '-')} -> {p.after.get('leadflow_score', '-')}"
        lines.append(
            f"{p.action:<6} contact {p.contact_id}  stage {stage}  "
            f"lifecyclestage {life}  score {score}"
        )
        lines.append(f"       why: {'; '.join([*p.reasons, *p.notes])}")
        if p.after.get("leadflow_reasons"):
            lines.append(f"       reasons: {p.after['leadflow_reasons']}")
    counts = Counter(p.action for p in plans)
    shown = f" (first {limit} shown)" if limit and len(plans) > limit else ""
    lines.append(
        f"{len(plans)} changed contacts{shown}: {counts['create']} create, "
        f"{counts['update']} update, {counts['skip']} skip; nothing was sent"
    )
    return "\n".join(lines)
