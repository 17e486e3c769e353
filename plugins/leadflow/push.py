"""Push-back: write each changed lead's stage, scores and reasons to its CRM contact.

The diff base is `leadflow.push_state`, the last state HubSpot accepted per contact, so a run
sends only contacts whose outgoing properties changed, and a row HubSpot rejected (or a run
killed mid-push never sent) stays different and is retried on every later run until it lands.
`lifecyclestage` only ever moves forward, in the option order read from the Properties API.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg

from leadflow.config import HubSpotSettings, PostgresSettings
from leadflow.db import open_connection
from leadflow.hubspot import BATCH_SIZE, HubSpotClient

log = logging.getLogger(__name__)

STAGES = [
    "suspect",
    "lead",
    "mql",
    "sal",
    "sql",
    "opportunity",
    "customer",
    "nurture",
    "disqualified",
]

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

# The desired CRM state per contact, built in SQL so the diff is one set-based query.
DESIRED_SQL = """
    select
        contact_id,
        current_lifecyclestage,
        jsonb_strip_nulls(jsonb_build_object(
            'leadflow_stage', leadflow_stage,
            'leadflow_score', leadflow_score::text,
            'leadflow_fit_grade', leadflow_fit_grade,
            'leadflow_reasons', leadflow_reasons,
            'leadflow_stage_entered_at',
                to_char(leadflow_stage_entered_at at time zone 'UTC',
                        'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
            'lifecyclestage', lifecyclestage
        )) as properties
    from marts.crm_outgoing_contacts
"""

CHANGED_SQL = f"""
    with desired as ({DESIRED_SQL})
    select d.contact_id, d.current_lifecyclestage, d.properties, s.properties as before
    from desired as d
    left join leadflow.push_state as s using (contact_id)
    where s.properties is distinct from d.properties
    order by d.contact_id
"""


@dataclass
class PushPlan:
    contact_id: int
    before: dict[str, Any] | None
    after: dict[str, Any]
    payload: dict[str, str]

    @property
    def action(self) -> str:
        return "update" if self.payload else "skip"


@dataclass
class PushStats:
    changed: int = 0
    pushed: int = 0
    failed: int = 0
    sql_pushed: int = 0
    batches: int = 0
    errors: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "changed": self.changed,
            "pushed": self.pushed,
            "failed": self.failed,
            "sql_pushed": self.sql_pushed,
            "batches": self.batches,
            "sample_errors": dict(list(self.errors.items())[:5]),
        }


def ensure_properties(client: HubSpotClient) -> dict[str, dict[str, Any]]:
    """Create leadflow's custom contact properties that are missing; return all definitions."""
    existing = {p["name"]: p for p in client.properties("contacts")}
    for definition in CUSTOM_PROPERTIES:
        if definition["name"] not in existing:
            log.info("creating contact property %s", definition["name"])
            client.create_property("contacts", {"groupName": "contactinformation", **definition})
    return {p["name"]: p for p in client.properties("contacts")}


def lifecycle_rank(definitions: dict[str, dict[str, Any]]) -> dict[str, int]:
    options = definitions["lifecyclestage"].get("options", [])
    ordered = sorted(options, key=lambda o: o.get("displayOrder", 0))
    return {o["value"]: i for i, o in enumerate(ordered)}


def payload_for(
    after: dict[str, Any], current_stage: str | None, rank: dict[str, int]
) -> dict[str, str]:
    """What to send: every leadflow property, and lifecyclestage only if it moves forward."""
    payload = {k: str(v) for k, v in after.items() if k != "lifecyclestage"}
    target = after.get("lifecyclestage")
    moves_forward = current_stage is None or rank.get(target, -1) > rank.get(current_stage, -1)
    if target in rank and moves_forward:
        payload["lifecyclestage"] = target
    return payload


def _changed(conn: psycopg.Connection, rank: dict[str, int]) -> Iterator[PushPlan]:
    with conn.cursor(name="leadflow_push_changed") as cur:
        cur.execute(CHANGED_SQL)
        for contact_id, current, after, before in cur:
            yield PushPlan(contact_id, before, after, payload_for(after, current, rank))


def plan(pg: PostgresSettings, hs: HubSpotSettings) -> list[PushPlan]:
    """The dry run: what a push would send now, sending nothing."""
    with HubSpotClient(hs) as client:
        rank = lifecycle_rank({p["name"]: p for p in client.properties("contacts")})
    with open_connection(pg) as conn:
        return list(_changed(conn, rank))


def push(pg: PostgresSettings, hs: HubSpotSettings, run_id: str) -> PushStats:
    """Send every changed contact in batches of ≤100; record each row's outcome."""
    stats = PushStats()
    with HubSpotClient(hs) as client, open_connection(pg) as read, open_connection(pg) as write:
        rank = lifecycle_rank(ensure_properties(client))
        batch: list[PushPlan] = []
        for item in _changed(read, rank):
            stats.changed += 1
            batch.append(item)
            if len(batch) == BATCH_SIZE:
                _send(client, write, run_id, batch, stats)
                batch = []
        if batch:
            _send(client, write, run_id, batch, stats)
    log.info("push %s", stats.as_dict())
    return stats


def _send(
    client: HubSpotClient,
    conn: psycopg.Connection,
    run_id: str,
    batch: list[PushPlan],
    stats: PushStats,
) -> None:
    inputs = [{"id": str(p.contact_id), "properties": p.payload} for p in batch]
    result = client.batch_update("contacts", inputs)
    stats.batches += 1
    with conn.transaction(), conn.cursor() as cur:
        ok = [p for p in batch if str(p.contact_id) not in result.errors]
        cur.executemany(
            """
            insert into leadflow.push_state (contact_id, properties, pushed_at, run_id)
            values (%s, %s, now(), %s)
            on conflict (contact_id) do update
                set properties = excluded.properties, pushed_at = excluded.pushed_at,
                    run_id = excluded.run_id
            """,
            [(p.contact_id, json.dumps(p.after), run_id) for p in ok],
        )
        cur.executemany(
            "insert into leadflow.push_log (run_id, contact_id, before, after, status, error)"
            " values (%s, %s, %s, %s, %s, %s)",
            [
                (
                    run_id,
                    p.contact_id,
                    json.dumps(p.before) if p.before is not None else None,
                    json.dumps(p.payload),
                    "error" if str(p.contact_id) in result.errors else "ok",
                    result.errors.get(str(p.contact_id)),
                )
                for p in batch
            ],
        )
    stats.pushed += len(ok)
    stats.failed += len(batch) - len(ok)
    stats.sql_pushed += sum(1 for p in ok if p.after.get("leadflow_stage") == "sql")
    stats.errors.update(result.errors)
