"""Salesforce as the CRM leadflow writes to: leadflow's custom fields (fields.py) on each
person's record, the hand-off as a Task on it, nurture enrollment as a CampaignMember.

A person's record is its Contact once converted, else its Lead (int_salesforce_person_numbers'
key, read once per session): a converted lead is never written. Updates go through sObject
Collections, 200 records a request with allOrNone false, so one locked or invalid record is
rejected alone and retried by a later run (leadflow.plan). leadflow never creates metadata:
a push stops, naming the field definitions to create, when the org lacks its fields; a dry run
plans as if they existed. Salesforce keeps whole seconds, so timestamps are sent that way, and
text longer than its field is cut, with a note, rather than rejected on every run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC
from typing import Any, TypeVar

from leadflow.db import open_connection
from leadflow.errors import ConfigError, SourceError
from leadflow.settings import PushOptions, connection_extra, postgres_settings
from leadflow.sources import (
    HELD_COLUMNS,
    Activity,
    ActivityOutcome,
    ListChange,
    Outcome,
    PushPlan,
    ref_of,
)
from leadflow.sources.salesforce.client import (
    COLLECTION_SIZE,
    SalesforceApiError,
    SalesforceClient,
    parse_time,
)
from leadflow.sources.salesforce.fields import BY_PROPERTY, FIELDS, WRITTEN_OBJECTS
from leadflow.sources.salesforce.settings import SalesforceSettings, conn_id, salesforce_settings

# Each person's record: its key (the Contact's id once converted, else the Lead's).
RECORDS_SQL = (
    "select person_id, person_key from intermediate.int_salesforce_person_numbers where not is_gone"
)
PREFIXES = {"00Q": "Lead", "003": "Contact"}  # the key prefix of each written object's ids
# Campaign membership of a record that is already a member: the add is done.
_ALREADY_MEMBER = "DUPLICATE_VALUE"
T = TypeVar("T")


class SalesforceSession:
    """One push's or dry run's conversation with Salesforce (leadflow.sources.CrmSession)."""

    def __init__(self, client: SalesforceClient, records: dict[int, str]) -> None:
        self.client = client
        self.records = records  # person id -> the record leadflow writes

    @property
    def requests_sent(self) -> int:
        return self.client.requests_sent

    def prepare(self, create_missing: bool) -> dict[str, str]:
        """Check by describe that Lead and Contact have leadflow's fields, updateable by the
        integration user; a push (`create_missing`) stops when they do not. Salesforce's
        describe says nothing of when a field was created, so no versions are returned."""
        missing = []
        for sobject in WRITTEN_OBJECTS:
            held = {f["name"]: f for f in self.client.describe(sobject)["fields"]}
            missing += [
                f"{sobject}.{f.definition()}"
                for f in FIELDS
                if not (held.get(f.name) or {}).get("updateable")
            ]
        if missing and create_missing:
            raise ConfigError(
                "Salesforce lacks leadflow's fields (or the integration user cannot edit them); "
                "leadflow does not create metadata. Create them in Setup > Object Manager, "
                "then give the user edit access: " + "; ".join(missing)
            )
        return {}

    def decide(self, plan: PushPlan, options: PushOptions) -> None:
        """leadflow's fields as Salesforce stores them; Salesforce has no lifecycle stage."""
        plan.payload = {}
        for name, value in plan.after.items():
            f = BY_PROPERTY.get(name)
            if f is None:
                continue
            text = str(value)
            if f.type == "datetime":
                text = f"{parse_time(text).astimezone(UTC):%Y-%m-%dT%H:%M:%S}.000Z"
            elif f.type == "string" and len(text) > f.length:
                text = text[: f.length]
                plan.notes.append(f"{name} cut to the {f.length} characters {f.name} holds")
            plan.payload[name] = text
        if plan.contact_id not in self.records:
            plan.notes.append("no Salesforce record for this person: rejected until it has one")

    def exists(self, contact_ids: list[int]) -> set[int]:
        return set(self._read(contact_ids, ["Id"]))

    def read_back(self, contact_ids: list[int], names: list[str]) -> dict[int, dict[str, Any]]:
        fields = [BY_PROPERTY[n].name for n in names if n in BY_PROPERTY]
        return {
            cid: {f.holds: record.get(f.name) for f in FIELDS if f.name in fields}
            for cid, record in self._read(contact_ids, fields).items()
        }

    def holds(self, name: str, sent: str, held: Any) -> bool:
        f = BY_PROPERTY.get(name)
        if sent in ("", None) or held in ("", None):
            return sent in ("", None) and held in ("", None)
        try:
            if f is not None and f.type == "double":
                return float(sent) == float(held)
            if f is not None and f.type == "datetime":
                return parse_time(sent) == parse_time(str(held))
        except ValueError:
            return False
        return str(sent) == str(held)

    def send(self, batch: list[PushPlan], options: PushOptions) -> Outcome:
        """Update each person's record; per-record rejections come back as errors."""
        outcome = Outcome()
        by_object: dict[str, list[tuple[PushPlan, dict[str, Any]]]] = {}
        for p in batch:
            record_id = self.records.get(p.contact_id)
            if not p.payload:
                continue
            if record_id is None:
                outcome.errors[p.contact_id] = "NOT_FOUND: no Salesforce record for this person"
                continue
            values = {BY_PROPERTY[k].name: _value(k, v) for k, v in p.payload.items()}
            by_object.setdefault(PREFIXES[record_id[:3]], []).append(
                (p, {"id": record_id, **values})
            )
        for sobject, rows in by_object.items():
            try:
                results = self.client.update(sobject, [values for _, values in rows])
            except SalesforceApiError as exc:
                if not _rejected(exc):
                    raise
                # A whole-request 4xx: every row is rejected and retried next run.
                for p, _ in rows:
                    outcome.errors[p.contact_id] = f"{exc.category or 'ERROR'}: {exc}"
                continue
            for (p, _), result in zip(rows, results, strict=True):
                if not result.get("success"):
                    outcome.errors[p.contact_id] = _error(result)
        return outcome

    def create_activities(self, batch: list[Activity]) -> ActivityOutcome:
        """Each hand-off as a Task on the person's record: a note is a completed Task dated
        when the person entered SQL, a follow-up an open one due at the SLA deadline."""
        outcome = ActivityOutcome()
        rows = []
        for a in batch:
            record_id = self.records.get(a.contact_id)
            if record_id is None:
                outcome.errors[a.key] = "NOT_FOUND: no Salesforce record for this person"
            else:
                rows.append((a, _task(a, record_id)))
        if not rows:
            return outcome
        try:
            results = self.client.create("Task", [task for _, task in rows])
        except SalesforceApiError as exc:
            if exc.status in (401, 403):
                raise
            outcome.errors |= {a.key: f"unconfirmed: {exc}" for a, _ in rows}
            return outcome
        for (a, _), result in zip(rows, results, strict=True):
            if result.get("success"):
                outcome.created[a.key] = str(result["id"])
            else:
                outcome.errors[a.key] = _error(result)
        return outcome

    def find_activities(self, batch: list[Activity]) -> dict[str, str]:
        """The people's Tasks that carry a reference line of the batch. Salesforce cannot
        filter on a long text area, so the people's Tasks are read and matched here."""
        wanted = {
            (self.records.get(a.contact_id), a.ref): a.key
            for a in batch
            if a.contact_id in self.records
        }
        who = sorted({record_id for record_id, _ in wanted if record_id})
        found: dict[str, str] = {}
        if not who:
            return found
        soql = f"SELECT Id, WhoId, Description FROM Task WHERE WhoId IN ({_quoted(who)})"
        for task in self.client.query(soql):
            key = wanted.get((task.get("WhoId"), ref_of(task.get("Description")) or ""))
            if key is not None:
                found[key] = str(task["Id"])
        return found

    def change_list(self, list_id: str, add: list[int], remove: list[int]) -> ListChange:
        """Nurture enrollment as membership of the campaign `list_id`: a CampaignMember
        created (an existing member counts as added) or deleted."""
        change = ListChange(missing=[cid for cid in add if cid not in self.records])
        adding = [(cid, self.records[cid]) for cid in add if cid in self.records]
        if adding:
            members = [
                {
                    "CampaignId": list_id,
                    f"{PREFIXES[record_id[:3]]}Id": record_id,
                    "Status": "Sent",
                }
                for _, record_id in adding
            ]
            results = _campaign_call(list_id, self.client.create, "CampaignMember", members)
            for (cid, _), result in zip(adding, results, strict=True):
                codes = {e.get("statusCode") for e in result.get("errors") or []}
                if result.get("success") or _ALREADY_MEMBER in codes:
                    change.added.append(cid)
                elif codes & {"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY", "NOT_FOUND"}:
                    change.missing.append(cid)
        leaving = {self.records[cid]: cid for cid in remove if cid in self.records}
        change.removed = [cid for cid in remove if cid not in self.records]
        if leaving:
            soql = (
                "SELECT Id, LeadOrContactId FROM CampaignMember"
                f" WHERE CampaignId = '{_escaped(list_id)}'"
                f" AND LeadOrContactId IN ({_quoted(sorted(leaving))})"
            )
            members = _campaign_call(list_id, lambda: list(self.client.query(soql)))
            ids = [str(m["Id"]) for m in members]
            results = _campaign_call(list_id, self.client.delete, ids) if ids else []
            gone = {r.get("id") for r in results if r.get("success")}
            kept = {str(m["LeadOrContactId"]) for m in members if m["Id"] not in gone}
            change.removed += [cid for rid, cid in leaving.items() if rid not in kept]
        return change

    def _read(self, contact_ids: list[int], fields: list[str]) -> dict[int, dict[str, Any]]:
        """The people's records as Salesforce holds them, by person id; those Salesforce has."""
        by_object: dict[str, list[tuple[int, str]]] = {}
        for cid in contact_ids:
            record_id = self.records.get(cid)
            if record_id is not None:
                by_object.setdefault(PREFIXES[record_id[:3]], []).append((cid, record_id))
        held: dict[int, dict[str, Any]] = {}
        for sobject, rows in by_object.items():
            found = self.client.retrieve(sobject, [rid for _, rid in rows], fields)
            for (cid, _), record in zip(rows, found, strict=True):
                if record is not None:
                    held[cid] = record
        return held


class SalesforceCrm:
    """Salesforce as the CRM (leadflow.sources.Crm)."""

    batch_size = COLLECTION_SIZE
    list_batch_size = COLLECTION_SIZE
    held_relation = "intermediate.int_salesforce_people"
    held_columns = HELD_COLUMNS

    def __init__(self, settings: SalesforceSettings | None = None) -> None:
        self._settings = settings

    def extra(self) -> dict[str, Any]:
        return connection_extra(conn_id())

    @contextmanager
    def session(self) -> Iterator[SalesforceSession]:
        with open_connection(postgres_settings()) as conn:
            exists = conn.execute(
                "select to_regclass('intermediate.int_salesforce_person_numbers') is not null"
            ).fetchone()[0]
            records = dict(conn.execute(RECORDS_SQL).fetchall()) if exists else {}
        with SalesforceClient(self._settings or salesforce_settings()) as client:
            yield SalesforceSession(client, records)


def _campaign_call(list_id: str, call: Callable[..., T], *args: Any) -> T:
    """A call about the nurture campaign; a 4xx is the campaign's (gone, not a campaign), so
    the contacts' push stands and the changes wait for the next run."""
    try:
        return call(*args)
    except SalesforceApiError as exc:
        if not _rejected(exc):
            raise
        raise SourceError(f"Salesforce campaign {list_id}: {exc}") from exc


def _rejected(exc: SalesforceApiError) -> bool:
    """Salesforce refused the request itself (a 4xx other than auth): what it carried waits for
    the next run, while an auth error or an outage stops the push."""
    return exc.status is not None and exc.status < 500 and exc.status not in (401, 403)


def _value(name: str, text: str) -> Any:
    return float(text) if BY_PROPERTY[name].type == "double" else text


def _task(a: Activity, record_id: str) -> dict[str, Any]:
    is_note = a.kind == "note"
    task: dict[str, Any] = {
        "WhoId": record_id,
        "Subject": a.subject or "leadflow hand-off: qualified as SQL",
        "Description": a.body,
        "ActivityDate": f"{a.at:%Y-%m-%d}",
        "Status": "Completed" if is_note else "Not Started",
        "Priority": "Normal" if is_note else "High",
    }
    if a.owner_id:
        task["OwnerId"] = a.owner_id
    return task


def _error(result: dict[str, Any]) -> str:
    errors = result.get("errors") or [{}]
    return "; ".join(f"{e.get('statusCode', 'ERROR')}: {e.get('message', '')}" for e in errors)


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def _quoted(values: list[str]) -> str:
    return ", ".join(f"'{_escaped(v)}'" for v in values)
