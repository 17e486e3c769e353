"""HubSpot as the CRM leadflow writes to: its properties, its lifecycle rules, its batch writes.

What is sent is filtered by what the CRM declares (Properties API): unknown and read-only
properties and values outside an enumeration's options are dropped and noted, never sent.
`lifecyclestage` only moves forward in the CRM's option order; a backward move is sent only
when it is intended (a recycle, with `allow_lifecycle_reset`) and then as clear-then-set, as
HubSpot requires; a customer is never downgraded. Contacts HubSpot no longer has are upserted
by email when the deployment asks for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from leadflow.batches import chunks
from leadflow.settings import PushOptions, connection_extra
from leadflow.sources import (
    HELD_COLUMNS,
    Activity,
    ActivityOutcome,
    ListChange,
    Outcome,
    PushPlan,
    ref_of,
)
from leadflow.sources.hubspot.client import (
    BATCH_SIZE,
    LIST_BATCH,
    HubSpotAuthError,
    HubSpotClient,
    HubSpotError,
    HubSpotUnreachable,
    parse_ts,
)
from leadflow.sources.hubspot.settings import HubSpotSettings, conn_id, hubspot_settings
from leadflow.stages import STAGES

# Each kind of activity leadflow writes: HubSpot's object, the property holding its body, and
# the association type from it to a contact (HubSpot-defined; ../shared/API-FACTS.md A5).
ACTIVITY_OBJECTS = {"note": ("notes", "hs_note_body", 202), "task": ("tasks", "hs_task_body", 204)}

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
        "name": "leadflow_stage_reason",
        "label": "leadflow stage reason",
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
OWN_PROPERTIES = [p["name"] for p in CUSTOM_PROPERTIES]


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


def lifecycle_rank(definitions: list[dict[str, Any]]) -> dict[str, int]:
    """lifecyclestage options in the CRM's display order: the order stages may move in."""
    by_name = {d["name"]: d for d in definitions}
    options = (by_name.get("lifecyclestage") or {}).get("options") or []
    ordered = sorted(options, key=lambda o: o.get("displayOrder", 0))
    return {o["value"]: i for i, o in enumerate(ordered)}


class HubSpotSession:
    """One push's or dry run's conversation with HubSpot (leadflow.sources.CrmSession)."""

    def __init__(self, client: HubSpotClient) -> None:
        self.client = client
        self.rules = CrmRules.from_definitions(CUSTOM_PROPERTIES)

    @property
    def requests_sent(self) -> int:
        return self.client.requests_sent

    def prepare(self, create_missing: bool) -> dict[str, str]:
        """Read the contact properties, creating leadflow's missing ones when asked (a dry run
        plans as if they existed); return the createdAt of each leadflow property it has."""
        definitions = self.client.properties("contacts")
        known = {d["name"] for d in definitions}
        missing = [d for d in CUSTOM_PROPERTIES if d["name"] not in known]
        if create_missing and missing:
            for definition in missing:
                self.client.create_property(
                    "contacts", {"groupName": "contactinformation", **definition}
                )
            definitions = self.client.properties("contacts")
            known = {d["name"] for d in definitions}
        self.rules = CrmRules.from_definitions(
            [*definitions, *(d for d in CUSTOM_PROPERTIES if d["name"] not in known)]
        )
        return {
            d["name"]: str(d.get("createdAt") or "")
            for d in definitions
            if d["name"] in OWN_PROPERTIES
        }

    def decide(self, plan: PushPlan, options: PushOptions) -> None:
        """Lifecycle rules first, then the CRM's declarations of every property."""
        plan.payload = {k: str(v) for k, v in plan.after.items() if k != "lifecyclestage"}
        _decide_lifecycle(plan, plan.after.get("lifecyclestage"), self.rules, options)
        for name in sorted(plan.payload):
            value = plan.payload[name]
            if name not in self.rules.writable:
                del plan.payload[name]
                plan.notes.append(f"{name} not sent: unknown or read-only in the CRM")
            elif name in self.rules.options and value and value not in self.rules.options[name]:
                del plan.payload[name]
                plan.notes.append(f"{name} not sent: {value!r} is not one of its CRM options")

    def exists(self, contact_ids: list[int]) -> set[int]:
        return set(self.client.batch_read("contacts", contact_ids, ["hs_object_id"]))

    def read_back(self, contact_ids: list[int], names: list[str]) -> dict[int, dict[str, Any]]:
        return self.client.batch_read("contacts", contact_ids, names)

    def holds(self, name: str, sent: str, held: Any) -> bool:
        return _same(self.rules.types.get(name, "string"), sent, held)

    def create_activities(self, batch: list[Activity]) -> ActivityOutcome:
        """One batch create, each input associated with its contact. Results are matched to
        keys by the reference line in their body; what the answer does not account for (or a
        lost answer) stays unconfirmed, for find_activities to look for next time."""
        object_type, body_name, type_id = ACTIVITY_OBJECTS[batch[0].kind]
        inputs = [
            {
                "properties": _activity_properties(a, body_name),
                "associations": [
                    {
                        "to": {"id": str(a.contact_id)},
                        "types": [
                            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}
                        ],
                    }
                ],
            }
            for a in batch
        ]
        outcome = ActivityOutcome()
        try:
            data = self.client.batch_create(object_type, inputs)
        except HubSpotAuthError:
            raise
        except HubSpotError as exc:
            outcome.errors = {a.key: f"unconfirmed: {exc}" for a in batch}
            return outcome
        by_ref = {a.ref: a.key for a in batch}
        for result in data.get("results", []):
            ref = ref_of((result.get("properties") or {}).get(body_name))
            if ref in by_ref:
                outcome.created[by_ref[ref]] = str(result.get("id"))
        for error in data.get("errors", []):
            message = f"{error.get('category', 'ERROR')}: {error.get('message', '')}"
            for index in (error.get("context") or {}).get("inputIndex") or []:
                if str(index).isdigit() and int(index) < len(batch):
                    outcome.errors[batch[int(index)].key] = message
        for a in batch:
            if a.key not in outcome.created:
                outcome.errors.setdefault(a.key, "unconfirmed: not in HubSpot's batch answer")
        return outcome

    def find_activities(self, batch: list[Activity]) -> dict[str, str]:
        """The contacts' notes (or tasks) read through their associations, matched by the
        reference line in their body."""
        object_type, body_name, _ = ACTIVITY_OBJECTS[batch[0].kind]
        wanted = {(a.contact_id, a.ref): a.key for a in batch}
        linked = self.client.associations(
            "contacts", object_type, sorted({a.contact_id for a in batch})
        )
        owners: dict[int, set[int]] = {}
        for contact_id, object_id, _type in linked:
            owners.setdefault(object_id, set()).add(contact_id)
        found: dict[str, str] = {}
        for chunk in chunks(sorted(owners), BATCH_SIZE):
            for object_id, props in self.client.batch_read(object_type, chunk, [body_name]).items():
                ref = ref_of(props.get(body_name))
                for contact_id in owners.get(object_id, ()):
                    key = wanted.get((contact_id, ref or ""))
                    if key is not None:
                        found[key] = str(object_id)
        return found

    def change_list(self, list_id: str, add: list[int], remove: list[int]) -> ListChange:
        data = self.client.change_list(list_id, [str(i) for i in add], [str(i) for i in remove])
        return ListChange(
            added=[int(i) for i in data.get("recordsIdsAdded") or []],
            removed=[int(i) for i in data.get("recordIdsRemoved") or []],
            missing=[int(i) for i in data.get("recordIdsMissing") or [] if str(i).isdigit()],
        )

    def send(self, batch: list[PushPlan], options: PushOptions) -> Outcome:
        """Clear-then-set where intended, update by id, upsert by email what the CRM lacks."""
        outcome = Outcome()
        try:
            self._clear_lifecycle(batch, outcome)
            sendable = [p for p in batch if p.payload and p.contact_id not in outcome.errors]
            if not sendable:
                return outcome
            result = self.client.batch_update(
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
                self._upsert_by_email(missing, outcome)
        except (HubSpotAuthError, HubSpotUnreachable):
            raise
        except HubSpotError as exc:
            if exc.status is None or exc.status >= 500:
                raise
            # A whole-batch 4xx: every row is rejected and retried next run.
            for p in batch:
                outcome.errors.setdefault(p.contact_id, f"{exc.category or 'ERROR'}: {exc}")
        return outcome

    def _clear_lifecycle(self, batch: list[PushPlan], outcome: Outcome) -> None:
        clears = [p for p in batch if p.clear_lifecycle and p.payload]
        if not clears:
            return
        cleared = self.client.batch_update(
            "contacts",
            [{"id": str(p.contact_id), "properties": {"lifecyclestage": ""}} for p in clears],
        )
        outcome.cleared = len(clears) - len(cleared.errors)
        for p in clears:
            if str(p.contact_id) in cleared.errors:
                outcome.errors[p.contact_id] = (
                    "clearing lifecyclestage: " + cleared.errors[str(p.contact_id)]
                )

    def _upsert_by_email(self, missing: list[PushPlan], outcome: Outcome) -> None:
        for p in missing:
            if p.email_shared:
                outcome.errors[p.contact_id] = (
                    f"not in the CRM, and not upserted: {p.email} is the email of other "
                    "contacts in the outgoing list too"
                )
        with_email = [p for p in missing if p.email and not p.email_shared]
        if not with_email:
            return
        data = self.client.batch_upsert(
            "contacts", [{"id": p.email, "properties": p.payload} for p in with_email], "email"
        )
        result = _upsert_result(data, with_email)
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


class HubSpotCrm:
    """HubSpot as the CRM (leadflow.sources.Crm)."""

    batch_size = BATCH_SIZE
    list_batch_size = LIST_BATCH
    held_relation = "staging.stg_hubspot__contacts"
    held_columns = HELD_COLUMNS

    def __init__(self, settings: HubSpotSettings | None = None) -> None:
        self._settings = settings

    def extra(self) -> dict[str, Any]:
        return connection_extra(conn_id())

    @contextmanager
    def session(self) -> Iterator[HubSpotSession]:
        with HubSpotClient(self._settings or hubspot_settings()) as client:
            yield HubSpotSession(client)


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


def _activity_properties(a: Activity, body_name: str) -> dict[str, str]:
    """A note's or task's properties: its body, time (a task's due time), owner, a task's title."""
    properties = {
        body_name: a.body,
        "hs_timestamp": a.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    }
    if a.owner_id is not None:
        properties["hubspot_owner_id"] = a.owner_id
    if a.kind == "task":
        properties |= {
            "hs_task_subject": a.subject,
            "hs_task_status": "NOT_STARTED",
            "hs_task_type": "TODO",
            "hs_task_priority": "HIGH",
        }
    return properties


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
