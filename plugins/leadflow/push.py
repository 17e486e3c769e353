"""Push-back: write each changed lead's stage, scores and reasons to its CRM contact.

The diff base is `leadflow.push_state`, the last state HubSpot accepted per contact, so a run
sends only contacts whose outgoing properties changed, and a row HubSpot rejected (or a run
killed mid-push never sent) stays different and is retried on every later run until it lands.

A batch is marked in `leadflow.push_inflight` before it is sent and unmarked in the transaction
that records its outcome. Rows still marked at the start of a run were sent by a run that died
before hearing back: they are read back from the CRM and, when the CRM already holds them,
recorded without being sent again. So a killed run plus its re-run sends each change once.

What is sent is filtered by what the CRM declares (Properties API): unknown and read-only
properties and values outside an enumeration's options are dropped and logged, never sent.
`lifecyclestage` only moves forward in the CRM's option order; a backward move is sent only
when it is intended (a recycle, with `allow_lifecycle_reset`) and then as clear-then-set,
as HubSpot requires; a customer is never downgraded.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from leadflow.config import (
    HUBSPOT_CONN_ID,
    ConfigError,
    HubSpotSettings,
    PostgresSettings,
    parse_setting,
)
from leadflow.db import open_connection
from leadflow.hubspot import (
    BATCH_SIZE,
    HubSpotAuthError,
    HubSpotClient,
    HubSpotError,
    HubSpotUnreachable,
    parse_ts,
)
from leadflow.quality import verify_validated
from leadflow.stages import STAGES

log = logging.getLogger(__name__)

# CRM lifecycle stages that are never moved backward, not even by an intended reset.
PROTECTED_LIFECYCLE = frozenset({"customer", "evangelist"})

# Custom contact properties leadflow owns in the CRM; created when missing.
CUSTOM_PROPERTIES: list[dict[str, Any]] = [
    {
        "name": "leadflow_stage",
        "label": "leadflow stage",
        "type": "enumeration",
        "fieldType": "select",
        "options": [
            {"label": s.upper() if len(s) == 3 else s.title(), "value": s, "displayOrder": i}
            for i, s in enumerate(STAGES)
        ],
    },
    {
        "name": "leadflow_score",
        "label": "leadflow score (0-100)",
        "type": "number",
        "fieldType": "number",
    },
    {
        "name": "leadflow_fit_grade",
        "label": "leadflow fit grade",
        "type": "enumeration",
        "fieldType": "select",
        "options": [{"label": g, "value": g, "displayOrder": i} for i, g in enumerate("ABCD")],
    },
    {
        "name": "leadflow_reasons",
        "label": "leadflow reasons",
        "type": "string",
        "fieldType": "textarea",
    },
    {
        "name": "leadflow_stage_entered_at",
        "label": "leadflow stage entered at",
        "type": "datetime",
        "fieldType": "date",
    },
]


def _leadflow_values(
    stage: str, score: str, grade: str, reasons: str, entered_at: str, extra: str = ""
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
                to_char({entered_at} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'){extra}
        ))"""


# The desired CRM state per contact, built in SQL so the diff is one set-based query.
_DESIRED_PROPERTIES = _leadflow_values(
    "leadflow_stage",
    "leadflow_score",
    "leadflow_fit_grade",
    "leadflow_reasons",
    "leadflow_stage_entered_at",
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


@dataclass(frozen=True)
class PushOptions:
    """Push behaviour a deployment chooses (HubSpot connection extra, env vars override)."""

    # Contacts the CRM no longer has (deleted, merged away) are upserted by email.
    create_missing: bool = False
    # Intended backward lifecycle moves: leadflow stage -> lifecyclestage to reset to.
    allow_lifecycle_reset: bool = False
    reset_targets: dict[str, str] = field(default_factory=lambda: {"nurture": "lead"})
    # Batches in flight at once; they share the token's rate budget.
    workers: int = 4
    # A dead run's last requests can still be applied by the CRM after it died; recovery waits
    # until its in-flight marks are this old before reading them back, so such a request is not
    # sent twice (a re-run after a kill is usually Airflow's retry, minutes later anyway).
    inflight_settle_s: float = 30.0

    @classmethod
    def load(cls, extra: dict[str, Any] | None = None) -> PushOptions:
        """From `extra` (or the HubSpot connection's extra) with LEADFLOW_* env overrides."""
        extra = dict(_connection_extra() if extra is None else extra)

        def setting(env: str, key: str, default: Any, kind: type, **bounds: Any) -> Any:
            where, raw = f"'{key}' in the HubSpot connection's extra", extra.get(key, default)
            if env in os.environ:
                where, raw = f"env var {env}", os.environ[env]
            return parse_setting(where, raw, kind, **bounds)

        targets: Any = extra.get("lifecycle_reset_to") or {"nurture": "lead"}
        if os.environ.get("LEADFLOW_LIFECYCLE_RESET_TO"):
            try:
                targets = json.loads(os.environ["LEADFLOW_LIFECYCLE_RESET_TO"])
            except ValueError:
                targets = None
        if not isinstance(targets, dict):
            raise ConfigError(
                "lifecycle_reset_to (or LEADFLOW_LIFECYCLE_RESET_TO) must be a JSON object such "
                'as {"nurture": "lead"}'
            )
        return cls(
            create_missing=setting(
                "LEADFLOW_PUSH_CREATE_MISSING", "push_create_missing", False, bool
            ),
            allow_lifecycle_reset=setting(
                "LEADFLOW_ALLOW_LIFECYCLE_RESET", "allow_lifecycle_reset", False, bool
            ),
            reset_targets={str(k): str(v) for k, v in targets.items()},
            workers=setting("LEADFLOW_PUSH_WORKERS", "push_workers", 4, int, minimum=1),
        )


def _connection_extra() -> dict[str, Any]:
    try:
        from airflow.sdk import BaseHook

        return dict(BaseHook.get_connection(HUBSPOT_CONN_ID).extra_dejson)
    except Exception:  # no Airflow or no connection: defaults (the settings code reports it)
        return {}


@dataclass(frozen=True)
class CrmRules:
    """What the CRM accepts for contacts, as its Properties API declares it."""

    writable: frozenset[str]
    options: dict[str, frozenset[str]]
    types: dict[str, str]
    rank: dict[str, int]

    @classmethod
    def from_definitions(cls, definitions: list[dict[str, Any]]) -> CrmRules:
        writable, options, types = set(), {}, {}
        for d in definitions:
            types[d["name"]] = d.get("type", "string")
            if not (d.get("modificationMetadata") or {}).get("readOnlyValue", False):
                writable.add(d["name"])
            if d.get("type") == "enumeration" and not d.get("referencedObjectType"):
                options[d["name"]] = frozenset(o["value"] for o in d.get("options") or [])
        return cls(frozenset(writable), options, types, lifecycle_rank(definitions))

    @classmethod
    def with_custom(cls, definitions: list[dict[str, Any]]) -> CrmRules:
        """As declared, plus leadflow's own properties (a dry run does not create them)."""
        known = {d["name"] for d in definitions}
        return cls.from_definitions(
            [*definitions, *(p for p in CUSTOM_PROPERTIES if p["name"] not in known)]
        )


def lifecycle_rank(definitions: list[dict[str, Any]]) -> dict[str, int]:
    """lifecyclestage options in the CRM's display order: the order stages may move in."""
    by_name = {d["name"]: d for d in definitions}
    options = (by_name.get("lifecyclestage") or {}).get("options") or []
    ordered = sorted(options, key=lambda o: o.get("displayOrder", 0))
    return {o["value"]: i for i, o in enumerate(ordered)}


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


@dataclass
class PushPlan:
    """One changed contact: what it was, what it should be, what will be sent and why."""

    contact_id: int
    email: str | None
    current_lifecyclestage: str | None
    before: dict[str, Any] | None
    after: dict[str, Any]
    payload: dict[str, str]
    clear_lifecycle: bool = False
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    create: bool = False  # not in the CRM; upserted by email (a dry run checks)
    # Another contact of the outgoing list has the same email: an upsert by it would write
    # this contact's values onto that one, so it is never upserted.
    email_shared: bool = False

    @property
    def action(self) -> str:
        if not self.payload:
            return "skip"
        return "create" if self.create else "update"

    @property
    def lifecycle_after(self) -> str | None:
        return self.payload.get("lifecyclestage") or self.current_lifecyclestage


def build_plan(
    contact_id: int,
    email: str | None,
    current: str | None,
    after: dict[str, Any],
    before: dict[str, Any] | None,
    rules: CrmRules,
    options: PushOptions,
    last_error: str | None = None,
) -> PushPlan:
    """Decide the payload for one contact: lifecycle rules first, then the CRM's declarations."""
    plan = PushPlan(contact_id, email, current, before, after, payload={})
    plan.reasons.append(_why(before, after, last_error))
    if lost := _lost(before):
        plan.notes.append(f"restore: the CRM lost {', '.join(lost)}")
    plan.payload = {k: str(v) for k, v in after.items() if k != "lifecyclestage"}
    _decide_lifecycle(plan, after.get("lifecyclestage"), rules, options)
    for name in sorted(plan.payload):
        value = plan.payload[name]
        if name not in rules.writable:
            del plan.payload[name]
            plan.notes.append(f"{name} not sent: unknown or read-only in the CRM")
        elif name in rules.options and value and value not in rules.options[name]:
            del plan.payload[name]
            plan.notes.append(f"{name} not sent: {value!r} is not one of its CRM options")
    return plan


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


def _decide_lifecycle(
    plan: PushPlan, target: str | None, rules: CrmRules, options: PushOptions
) -> None:
    current = plan.current_lifecyclestage
    stage = plan.after.get("leadflow_stage")
    reset_to = options.reset_targets.get(stage or "") if options.allow_lifecycle_reset else None
    if reset_to:
        target = reset_to
    if target is None:
        return
    if target not in rules.rank:
        plan.notes.append(f"lifecyclestage {target!r} is not a CRM option: not sent")
    elif target == current:
        return
    elif current is None or rules.rank[target] > rules.rank.get(current, -1):
        plan.payload["lifecyclestage"] = target
        plan.notes.append(f"lifecyclestage {current or '(empty)'} -> {target}")
    elif current in PROTECTED_LIFECYCLE:
        plan.notes.append(f"lifecyclestage stays {current}: a {current} is never downgraded")
    elif reset_to:
        plan.payload["lifecyclestage"] = target
        plan.clear_lifecycle = True
        plan.notes.append(f"lifecyclestage {current} -> {target}: recycle, cleared then set")
    else:
        plan.notes.append(f"lifecyclestage stays {current}: moves forward only (not {target})")


@dataclass
class PushStats:
    changed: int = 0
    pushed: int = 0
    failed: int = 0
    created: int = 0
    cleared: int = 0
    recovered: int = 0
    dropped_properties: int = 0
    sql_pushed: int = 0
    new_sql: int = 0
    restored: int = 0
    recreated_properties: list[str] = field(default_factory=list)
    batches: int = 0
    requests: int = 0
    seconds: float = 0.0
    errors: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "changed": self.changed,
            "pushed": self.pushed,
            "failed": self.failed,
            "created": self.created,
            "cleared": self.cleared,
            "recovered": self.recovered,
            "dropped_properties": self.dropped_properties,
            "sql_pushed": self.sql_pushed,
            "new_sql": self.new_sql,
            "restored": self.restored,
            "recreated_properties": self.recreated_properties,
            "batches": self.batches,
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "rows_per_s": round(self.pushed / self.seconds, 1) if self.seconds else None,
            "sample_errors": dict(list(self.errors.items())[:5]),
        }


def ensure_properties(client: HubSpotClient) -> list[dict[str, Any]]:
    """Create leadflow's custom contact properties that are missing; return all definitions."""
    existing = {p["name"] for p in client.properties("contacts")}
    missing = [d for d in CUSTOM_PROPERTIES if d["name"] not in existing]
    for definition in missing:
        log.info("creating contact property %s", definition["name"])
        client.create_property("contacts", {"groupName": "contactinformation", **definition})
    return client.properties("contacts")


# -- values lost in the CRM ------------------------------------------------------------------

OWN_PROPERTIES = [p["name"] for p in CUSTOM_PROPERTIES]
_HELD_PROPERTIES = _leadflow_values(
    "crm_leadflow_stage",
    "trim_scale(crm_leadflow_score)",
    "crm_leadflow_fit_grade",
    "crm_leadflow_reasons",
    "crm_leadflow_stage_entered_at",
)
# Contacts read back from the CRM after their last push (and since the last check) whose
# values of leadflow's properties are not what was sent, with the names that differ. The
# differing names are marked lost (null) in push_state, so the diff sends them again and a
# rejected restore is retried like any rejected row.
MARK_LOST_SQL = f"""
    with held as (
        select contact_id, loaded_at, {_HELD_PROPERTIES} as held
        from staging.stg_hubspot__contacts
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
    conn: psycopg.Connection, definitions: list[dict[str, Any]], run_id: str
) -> Drift:
    """Mark values the CRM no longer holds as lost in push_state, so this push restores them.

    Two ways values get lost without leadflow hearing of it from its own diff: someone clears
    or edits leadflow's fields (the contacts are then read back changed: compared with what
    was sent), or deletes a leadflow property and creates it again (no contact changes: its
    definition's createdAt does). The first check only starts the watermark.
    """
    with conn.transaction():
        (since,) = conn.execute("select max(checked_at) from leadflow.crm_drift_checks").fetchone()
        (staged,) = conn.execute(
            "select to_regclass('staging.stg_hubspot__contacts') is not null"
        ).fetchone()
        restored: set[int] = set()
        if since is not None and staged:
            rows = conn.execute(MARK_LOST_SQL, {"since": since, "names": OWN_PROPERTIES})
            restored.update(r[0] for r in rows)
        recreated = _recreated_properties(conn, definitions)
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


def _recreated_properties(
    conn: psycopg.Connection, definitions: list[dict[str, Any]]
) -> tuple[str, ...]:
    """leadflow's properties whose CRM definition is gone or newer than the one last seen."""
    current = {
        d["name"]: str(d.get("createdAt") or "") for d in definitions if d["name"] in OWN_PROPERTIES
    }
    seen = dict(conn.execute("select name, created_at from leadflow.crm_properties").fetchall())
    with conn.cursor() as cur:
        cur.executemany(
            """
            insert into leadflow.crm_properties (name, created_at) values (%s, %s)
            on conflict (name) do update
                set created_at = excluded.created_at, seen_at = now()
            """,
            sorted(current.items()),
        )
    return tuple(sorted(name for name, created in seen.items() if current.get(name) != created))


def count_changes(pg: PostgresSettings) -> ChangeCounts:
    """What a push would send now; for the volume circuit breaker."""
    with open_connection(pg) as conn:
        changed, new_sql, moves, contacts, first = conn.execute(COUNT_CHANGES_SQL).fetchone()
    return ChangeCounts(int(changed), int(new_sql), int(moves), int(contacts), bool(first))


def _changed(conn: psycopg.Connection, rules: CrmRules, options: PushOptions) -> Iterator[PushPlan]:
    """The changed contacts, planned, read through a server-side cursor."""
    shared = _shared_emails(conn) if options.create_missing else frozenset()
    cur = conn.cursor(name="leadflow_push_changed")
    try:
        cur.execute(CHANGED_SQL)
        for contact_id, email, current, after, before, last_error in cur:
            plan = build_plan(contact_id, email, current, after, before, rules, options, last_error)
            plan.email_shared = email in shared
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


def plan(
    pg: PostgresSettings, hs: HubSpotSettings, options: PushOptions | None = None
) -> list[PushPlan]:
    """The dry run: what a push would send now and why. Reads the CRM, writes nothing."""
    options = options or PushOptions.load()
    with HubSpotClient(hs) as client:
        definitions = client.properties("contacts")
        rules = CrmRules.with_custom(definitions)
        with open_connection(pg) as conn, conn.transaction(force_rollback=True):
            # The push's own marking of lost values, undone: the plan shows the restores.
            restore_drift(conn, definitions, "plan")
            plans = list(_changed(conn, rules, options))
        for start in range(0, len(plans), BATCH_SIZE):
            chunk = plans[start : start + BATCH_SIZE]
            found = _read_back(client, [p.contact_id for p in chunk], ["hs_object_id"])
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


def push(
    pg: PostgresSettings,
    hs: HubSpotSettings,
    run_id: str,
    options: PushOptions | None = None,
) -> PushStats:
    """Send every changed contact in batches of ≤100; record each row's outcome."""
    options = options or PushOptions.load()
    stats = PushStats()
    started = time.monotonic()
    with HubSpotClient(hs) as client, open_connection(pg) as read, open_connection(pg) as write:
        write.autocommit = True
        definitions = ensure_properties(client)
        rules = CrmRules.from_definitions(definitions)
        _recover_inflight(client, write, run_id, rules, stats, options.inflight_settle_s)
        drift = restore_drift(write, definitions, run_id)
        stats.restored, stats.recreated_properties = drift.contacts, list(drift.recreated)
        # One snapshot, taken after the recovery wrote its rows, for the check and the read:
        # what is sent is what the gate validated.
        read.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        verify_validated(read, run_id)
        with ThreadPoolExecutor(max_workers=options.workers) as pool:
            pending: dict[Future[_Outcome], list[PushPlan]] = {}
            batch: list[PushPlan] = []
            for item in _changed(read, rules, options):
                stats.changed += 1
                batch.append(item)
                if len(batch) == BATCH_SIZE:
                    _submit(pool, pending, client, write, run_id, batch, options)
                    batch = []
                    if len(pending) >= options.workers:
                        _drain(pending, write, run_id, stats, FIRST_COMPLETED)
            if batch:
                _submit(pool, pending, client, write, run_id, batch, options)
            _drain(pending, write, run_id, stats)
        stats.requests = client.requests_sent
    stats.seconds = time.monotonic() - started
    log.info("push %s", stats.as_dict())
    return stats


@dataclass
class _Outcome:
    """What the CRM said about one batch: errors per contact id, notes, created ids."""

    errors: dict[int, str] = field(default_factory=dict)
    created: dict[int, str] = field(default_factory=dict)
    cleared: int = 0


def _submit(
    pool: ThreadPoolExecutor,
    pending: dict[Future[_Outcome], list[PushPlan]],
    client: HubSpotClient,
    conn: psycopg.Connection,
    run_id: str,
    batch: list[PushPlan],
    options: PushOptions,
) -> None:
    _mark_inflight(conn, run_id, batch)
    pending[pool.submit(_send_batch, client, batch, options)] = batch


def _drain(
    pending: dict[Future[_Outcome], list[PushPlan]],
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


def _send_batch(client: HubSpotClient, batch: list[PushPlan], options: PushOptions) -> _Outcome:
    """Clear-then-set where intended, update by id, upsert by email what the CRM lacks."""
    outcome = _Outcome()
    try:
        clears = [p for p in batch if p.clear_lifecycle and p.payload]
        if clears:
            cleared = client.batch_update(
                "contacts",
                [{"id": str(p.contact_id), "properties": {"lifecyclestage": ""}} for p in clears],
            )
            outcome.cleared = len(clears) - len(cleared.errors)
            for p in clears:
                if str(p.contact_id) in cleared.errors:
                    outcome.errors[p.contact_id] = (
                        "clearing lifecyclestage: " + (cleared.errors[str(p.contact_id)])
                    )
        sendable = [p for p in batch if p.payload and p.contact_id not in outcome.errors]
        if not sendable:
            return outcome
        result = client.batch_update(
            "contacts",
            [{"id": str(p.contact_id), "properties": p.payload} for p in sendable],
        )
        for p in sendable:
            error = result.errors.get(str(p.contact_id))
            if error is not None:
                outcome.errors[p.contact_id] = error
        missing = [
            p
            for p in sendable
            if outcome.errors.get(p.contact_id, "").startswith("OBJECT_NOT_FOUND")
        ]
        if options.create_missing and missing:
            _upsert_by_email(client, missing, outcome)
    except (HubSpotAuthError, HubSpotUnreachable):
        raise
    except HubSpotError as exc:
        if exc.status is None or exc.status >= 500:
            raise
        # A whole-batch 4xx: every row is rejected and retried next run.
        for p in batch:
            outcome.errors.setdefault(p.contact_id, f"{exc.category or 'ERROR'}: {exc}")
    return outcome


def _upsert_by_email(client: HubSpotClient, missing: list[PushPlan], outcome: _Outcome) -> None:
    for p in missing:
        if p.email_shared:
            outcome.errors[p.contact_id] = (
                f"not in the CRM, and not upserted: {p.email} is the email of other contacts "
                "in the outgoing list too"
            )
    with_email = [p for p in missing if p.email and not p.email_shared]
    if not with_email:
        return
    response = client.request(
        "POST",
        "/crm/v3/objects/contacts/batch/upsert",
        json={
            "inputs": [
                {"id": p.email, "idProperty": "email", "properties": p.payload} for p in with_email
            ]
        },
    )
    result = _upsert_result(response.json() if response.content else {}, with_email)
    by_email = {str(p.email).lower(): p for p in with_email}
    for email, new_id in result.ok:
        p = by_email.get(email)
        if p is not None:
            outcome.errors.pop(p.contact_id, None)
            outcome.created[p.contact_id] = new_id
    for email, error in result.errors.items():
        p = by_email.get(email)
        if p is not None:
            outcome.errors[p.contact_id] = f"upsert by email: {error}"


@dataclass
class _UpsertResult:
    ok: list[tuple[str, str]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def _upsert_result(data: dict[str, Any], sent: list[PushPlan]) -> _UpsertResult:
    result = _UpsertResult()
    for r in data.get("results", []):
        email = str((r.get("properties") or {}).get("email") or "").lower()
        result.ok.append((email, str(r.get("id"))))
    ok = {e for e, _ in result.ok}
    for error in data.get("errors", []):
        message = f"{error.get('category', 'ERROR')}: {error.get('message', '')}"
        for ident in (error.get("context") or {}).get("ids") or []:
            result.errors[str(ident).lower()] = message
    for p in sent:
        email = str(p.email).lower()
        if email not in ok:
            result.errors.setdefault(email, "not in HubSpot's upsert response")
    return result


def _record(
    conn: psycopg.Connection,
    run_id: str,
    batch: list[PushPlan],
    outcome: _Outcome,
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
        if len(stats.errors) < 50:
            stats.errors[str(contact_id)] = error


def _is_new_sql(p: PushPlan) -> bool:
    return (
        p.after.get("leadflow_stage") == "sql" and (p.before or {}).get("leadflow_stage") != "sql"
    )


def _log_row(run_id: str, p: PushPlan, outcome: _Outcome) -> tuple[Any, ...]:
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
    client: HubSpotClient,
    conn: psycopg.Connection,
    run_id: str,
    rules: CrmRules,
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
    for start in range(0, len(rows), BATCH_SIZE):
        chunk = rows[start : start + BATCH_SIZE]
        names = sorted({n for _, _, payload in chunk for n in payload})
        crm = _read_back(client, [cid for cid, _, _ in chunk], names)
        for contact_id, after, payload in chunk:
            held = crm.get(contact_id)
            if held is not None and all(
                _same(rules.types.get(k, "string"), v, held.get(k)) for k, v in payload.items()
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


def _read_back(
    client: HubSpotClient, ids: list[int], names: list[str]
) -> dict[int, dict[str, Any]]:
    response = client.request(
        "POST",
        "/crm/v3/objects/contacts/batch/read",
        json={"inputs": [{"id": str(i)} for i in ids], "properties": names},
    )
    data = response.json() if response.content else {}
    return {int(r["id"]): r.get("properties") or {} for r in data.get("results", [])}


def _same(kind: str, sent: str, held: Any) -> bool:
    """Does the CRM hold what was sent? HubSpot normalises numbers and timestamps."""
    if sent in ("", None):
        return held in ("", None)
    if held in ("", None):
        return False
    try:
        if kind == "number":
            return float(sent) == float(held)
        if kind in ("datetime", "date"):
            return _instant(sent) == _instant(str(held))
    except ValueError:
        return False
    return str(sent) == str(held)


def _instant(value: str) -> datetime | int:
    return int(value) if value.isdigit() else parse_ts(value)
