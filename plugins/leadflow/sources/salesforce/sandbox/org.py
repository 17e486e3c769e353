"""One Salesforce org in memory: records by object, the API's write rules, SOQL over them,
query cursors and the daily API allocation. No HTTP here: `routes.py` parses requests and
renders what these methods return, and tests seed an org directly through the trusted
helpers (`insert(..., trusted=True)`, `convert_lead`, `merge`), like edits in Salesforce's UI.

Records are dicts keyed by API field name holding values as the REST API renders them
(datetimes as 2026-11-30T10:00:00.000+0000, dates as 2026-11-30). Salesforce keeps no
fractions of a second, so neither does the org: many records share a SystemModstamp, which is
why a reader must page on (SystemModstamp, Id).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from leadflow.sources.salesforce import ids
from leadflow.sources.salesforce.fields import FIELDS as LEADFLOW_FIELDS
from leadflow.sources.salesforce.fields import WRITTEN_OBJECTS
from leadflow.sources.salesforce.sandbox import soql
from leadflow.sources.salesforce.sandbox.errors import SalesforceError
from leadflow.sources.salesforce.sandbox.schema import OBJECTS, Field, SObject, find

# Fields an API write must carry, by object (Salesforce's REQUIRED_FIELD_MISSING).
_REQUIRED = {
    "Lead": ("LastName", "Company"),
    "Contact": ("LastName",),
    "Account": ("Name",),
    "Opportunity": ("Name", "StageName", "CloseDate"),
    "Campaign": ("Name",),
    "CampaignMember": ("CampaignId",),
    "User": ("Username", "LastName"),
}
# The Lead fields whose changes LeadHistory tracks (field history tracking, per field).
TRACKED = {"Lead": ("Status", "OwnerId", "Rating")}
_ROLLED_BACK = (
    "Record rolled back because not all records were valid and the request was using "
    "AllOrNone header"
)
API_VERSIONS = tuple(f"{v}.0" for v in range(55, 68))


def not_found() -> SalesforceError:
    return SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")


@dataclass
class Cursor:
    """A query's remaining rows, as Salesforce keeps a query locator for them."""

    rows: list[dict[str, Any]]
    batch: int
    endpoint: str  # query or queryAll, which its nextRecordsUrl names


@dataclass
class Faults:
    """What the org does wrong on purpose; every field may change while it serves."""

    lock_failure_rate: float = 0.0  # per record of a collection write: UNABLE_TO_LOCK_ROW
    lock_failures: set[str] = field(default_factory=set)  # these ids fail once each


class Org:
    def __init__(self, api_max: int = 100_000) -> None:
        self.lock = threading.RLock()
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.records: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in OBJECTS}
        self._next = dict.fromkeys(OBJECTS, 1)
        self.api_max = api_max
        self.api_used = 0
        self.faults = Faults()
        self._rng = random.Random(0)
        self._cursors: dict[str, Cursor] = {}
        self._next_cursor = 1
        self.user_id = ""  # the integration user every API write is made by
        # Field-level security of the integration user: (object, field) it cannot see, and
        # those it can read but not edit.
        self.hidden_fields: set[tuple[str, str]] = set()
        self.read_only_fields: set[tuple[str, str]] = set()

    # -- time and ids ----------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock().astimezone(UTC).replace(microsecond=0)

    def _stamp(self, at: datetime | None) -> str:
        """A write's time as the API renders it, in whole seconds as Salesforce keeps it."""
        return soql.render_datetime((at or self.now()).replace(microsecond=0))

    def _new_id(self, sobject: SObject) -> str:
        n = self._next[sobject.name]
        self._next[sobject.name] += 1
        return ids.make_id(sobject.prefix, n)

    # -- metadata ----------------------------------------------------------------------------

    def sobject(self, name: str) -> SObject:
        found = find(name)
        if found is None:
            raise SalesforceError(
                404, "NOT_FOUND", f"The requested resource does not exist: sObject type '{name}'"
            )
        return found

    def visible(self, sobject: SObject) -> list[Field]:
        """Its fields as describe shows them to the integration user."""
        return [
            f for f in sobject.fields.values() if (sobject.name, f.name) not in self.hidden_fields
        ]

    def describe_fields(self, sobject: SObject) -> list[dict[str, Any]]:
        described = []
        for f in self.visible(sobject):
            entry = f.describe()
            if (sobject.name, f.name) in self.read_only_fields:
                entry.update(createable=False, updateable=False)
            described.append(entry)
        return described

    def without_leadflow_fields(self) -> None:
        """As an org is before its admin created leadflow's custom fields."""
        self.hidden_fields |= {(o, f.name) for o in WRITTEN_OBJECTS for f in LEADFLOW_FIELDS}

    def field(self, sobject: SObject, name: str) -> Field | None:
        found = sobject.field(name)
        if found is None or (sobject.name, found.name) in self.hidden_fields:
            return None
        return found

    # -- API usage -----------------------------------------------------------------------------

    def spend(self) -> None:
        """Count one API request against the rolling daily allocation, or refuse it."""
        with self.lock:
            if self.api_used >= self.api_max:
                raise SalesforceError(
                    403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."
                )
            self.api_used += 1

    def limits(self) -> dict[str, Any]:
        with self.lock:
            return {
                "DailyApiRequests": {
                    "Max": self.api_max,
                    "Remaining": self.api_max - self.api_used,
                },
                "DailyBulkV2QueryJobs": {"Max": 10_000, "Remaining": 10_000},
                "DailyBulkV2QueryFileStorageMB": {"Max": 976_562, "Remaining": 976_562},
                "DailyBulkApiBatches": {"Max": 15_000, "Remaining": 15_000},
            }

    # -- reads -------------------------------------------------------------------------------

    def get(self, name: str, record_id: str, fields: Iterable[str] | None = None) -> dict[str, Any]:
        with self.lock:
            sobject = self.sobject(name)
            record = self._find(sobject, record_id)
            if record is None or record.get("IsDeleted"):
                raise not_found()
            names = [self._checked(sobject, n).name for n in fields] if fields else None
            return self.render(sobject, record, names)

    def _find(self, sobject: SObject, record_id: str) -> dict[str, Any] | None:
        full = ids.normalize(record_id)
        return self.records[sobject.name].get(full) if full else None

    def render(
        self,
        sobject: SObject,
        record: dict[str, Any],
        names: list[str] | None,
        version: str = "66.0",
    ) -> dict[str, Any]:
        """A record as the REST API returns it: attributes first, then the fields asked for."""
        shown = names or [f.name for f in self.visible(sobject)]
        out: dict[str, Any] = {
            "attributes": {
                "type": sobject.name,
                "url": f"/services/data/v{version}/sobjects/{sobject.name}/{record['Id']}",
            }
        }
        for name in shown:
            out[name] = record.get(name)
        return out

    def query(
        self, text: str, *, include_deleted: bool, batch: int, version: str
    ) -> dict[str, Any]:
        """The first page of a SOQL query (batch rows at most) and, if there are more, the
        nextRecordsUrl of the rest."""
        with self.lock:
            parsed = soql.parse(text)
            for f in parsed.fields:
                if (parsed.sobject.name, f.name) in self.hidden_fields:
                    raise SalesforceError(
                        400,
                        "INVALID_FIELD",
                        f"No such column '{f.name}' on entity '{parsed.sobject.name}'.",
                    )
            records = self.records[parsed.sobject.name].values()
            pool = (
                list(records) if include_deleted else [r for r in records if not r.get("IsDeleted")]
            )
            names = [f.name for f in parsed.fields]
            rows = [self.render(parsed.sobject, r, names, version) for r in parsed.run(pool)]
            endpoint = "queryAll" if include_deleted else "query"
            return self._page(rows, batch, endpoint, version, None, 0)

    def query_more(self, locator: str, version: str) -> dict[str, Any]:
        cursor_id, _, offset = locator.rpartition("-")
        with self.lock:
            cursor = self._cursors.get(cursor_id)
            if cursor is None or not offset.isdigit():
                raise SalesforceError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            return self._page(
                cursor.rows, cursor.batch, cursor.endpoint, version, cursor_id, int(offset)
            )

    def _page(
        self,
        rows: list[dict[str, Any]],
        batch: int,
        endpoint: str,
        version: str,
        cursor_id: str | None,
        offset: int,
    ) -> dict[str, Any]:
        page = rows[offset : offset + batch]
        body: dict[str, Any] = {
            "totalSize": len(rows),
            "done": offset + batch >= len(rows),
            "records": page,
        }
        if not body["done"]:
            if cursor_id is None:
                cursor_id = ids.make_id("01g", self._next_cursor)[:15]
                self._next_cursor += 1
                self._cursors[cursor_id] = Cursor(rows, batch, endpoint)
            body["nextRecordsUrl"] = (
                f"/services/data/v{version}/{endpoint}/{cursor_id}-{offset + batch}"
            )
        elif cursor_id is not None:
            self._cursors.pop(cursor_id, None)
        return body

    # -- writes ------------------------------------------------------------------------------

    def _checked(self, sobject: SObject, name: str) -> Field:
        found = self.field(sobject, name)
        if found is None:
            raise SalesforceError(
                400,
                "INVALID_FIELD",
                f"No such column '{name}' on sobject of type {sobject.name}",
            )
        return found

    def _values(
        self, sobject: SObject, values: dict[str, Any], *, creating: bool, trusted: bool
    ) -> dict[str, Any]:
        """`values` by canonical field name, coerced to the API's forms, checked for access."""
        out: dict[str, Any] = {}
        locked = []
        for name, raw in values.items():
            if name == "attributes":
                continue
            f = self._checked(sobject, name)
            editable = f.createable if creating else f.updateable
            if not trusted and (not editable or (sobject.name, f.name) in self.read_only_fields):
                locked.append(f.name)
                continue
            out[f.name] = _coerce(f, raw)
        if locked:
            raise SalesforceError(
                400,
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(locked)}. Please check the security "
                "settings of this field and verify that it is read/write for your profile or "
                "permission set.",
                locked,
            )
        return out

    def insert(
        self,
        name: str,
        values: dict[str, Any],
        *,
        trusted: bool = False,
        at: datetime | None = None,
    ) -> str:
        """Create a record; returns its id. `trusted` writes read-only fields (seeding)."""
        with self.lock:
            sobject = self.sobject(name)
            if not sobject.createable and not trusted:
                raise SalesforceError(
                    400,
                    "INVALID_TYPE_FOR_OPERATION",
                    f"entity type {sobject.name} does not support create",
                )
            clean = self._values(sobject, values, creating=True, trusted=trusted)
            missing = [f for f in _REQUIRED.get(sobject.name, ()) if clean.get(f) in (None, "")]
            if missing:
                raise SalesforceError(
                    400,
                    "REQUIRED_FIELD_MISSING",
                    f"Required fields are missing: [{', '.join(missing)}]",
                    missing,
                )
            if sobject.name == "CampaignMember" and self._is_member(clean):
                raise SalesforceError(400, "DUPLICATE_VALUE", "Already a campaign member.")
            stamp = self._stamp(at)
            record: dict[str, Any] = dict.fromkeys(sobject.fields)
            record.update(Id=self._new_id(sobject), IsDeleted=False, CreatedDate=stamp)
            if "SystemModstamp" in sobject.fields:
                record.update(
                    LastModifiedDate=stamp,
                    SystemModstamp=stamp,
                    LastModifiedById=self.user_id or None,
                )
            record["CreatedById"] = self.user_id or None
            if "OwnerId" in sobject.fields:
                record["OwnerId"] = self.user_id or None
            record.update(_defaults(sobject.name))
            record.update(clean)
            _derive(sobject.name, record, stamp)
            self.records[sobject.name][record["Id"]] = record
            return record["Id"]

    def _is_member(self, values: dict[str, Any]) -> bool:
        who = values.get("ContactId") or values.get("LeadId")
        return any(
            m["CampaignId"] == values.get("CampaignId")
            and m["LeadOrContactId"] == who
            and not m["IsDeleted"]
            for m in self.records["CampaignMember"].values()
        )

    def update(
        self,
        name: str,
        record_id: str,
        values: dict[str, Any],
        *,
        trusted: bool = False,
        at: datetime | None = None,
    ) -> None:
        with self.lock:
            sobject = self.sobject(name)
            record = self._find(sobject, record_id)
            if record is None:
                raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
            if record.get("IsDeleted"):
                raise SalesforceError(404, "ENTITY_IS_DELETED", "entity is deleted")
            if sobject.name == "Lead" and record.get("IsConverted") and not trusted:
                raise SalesforceError(
                    400, "CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead"
                )
            clean = self._values(sobject, values, creating=False, trusted=trusted)
            stamp = self._stamp(at)
            for tracked in TRACKED.get(sobject.name, ()):
                if tracked in clean and clean[tracked] != record.get(tracked):
                    self._history(record, tracked, record.get(tracked), clean[tracked], stamp)
            record.update(clean)
            record.update(LastModifiedDate=stamp, SystemModstamp=stamp)
            _derive(sobject.name, record, stamp)

    def _history(self, lead: dict[str, Any], name: str, old: Any, new: Any, stamp: str) -> None:
        history = OBJECTS["LeadHistory"]
        row_id = self._new_id(history)
        self.records["LeadHistory"][row_id] = {
            "Id": row_id,
            "IsDeleted": False,
            "LeadId": lead["Id"],
            "Field": name,
            "DataType": "Text",
            "OldValue": old,
            "NewValue": new,
            "CreatedById": self.user_id or None,
            "CreatedDate": stamp,
        }

    def delete(self, name: str, record_id: str) -> None:
        """Move a record to the recycle bin: queryAll still returns it, IsDeleted true."""
        with self.lock:
            sobject = self.sobject(name)
            record = self._find(sobject, record_id)
            if record is None or record.get("IsDeleted"):
                raise SalesforceError(404, "ENTITY_IS_DELETED", "entity is deleted")
            stamp = self._stamp(None)
            record.update(IsDeleted=True, SystemModstamp=stamp, LastModifiedDate=stamp)

    def delete_ids(self, record_ids: list[str]) -> list[dict[str, Any]]:
        """sObject Collections delete: one result per id, in order, each object found by its
        id's key prefix (allOrNone false)."""
        if len(record_ids) > 200:
            raise SalesforceError(
                400,
                "EXCEEDED_ID_LIMIT",
                "record limit reached. cannot submit more than 200 records into this call",
            )
        results = []
        for record_id in record_ids:
            sobject = next((o for o in OBJECTS.values() if record_id[:3] == o.prefix), None)
            try:
                if sobject is None:
                    raise SalesforceError(400, "MALFORMED_ID", f"malformed id {record_id}")
                self.delete(sobject.name, record_id)
                results.append({"id": ids.normalize(record_id), "success": True, "errors": []})
            except SalesforceError as error:
                fail = {"statusCode": error.code, "message": error.message, "fields": []}
                results.append({"id": record_id, "success": False, "errors": [fail]})
        return results

    def upsert(self, name: str, key: str, value: str, values: dict[str, Any]) -> tuple[bool, str]:
        """Update the one record whose external id field `key` is `value`, or create it;
        returns (created, id). Several matches are Salesforce's 300."""
        with self.lock:
            sobject = self.sobject(name)
            key_field = self._checked(sobject, key)
            if key_field.name != "Id" and not key_field.external_id:
                raise SalesforceError(
                    404,
                    "NOT_FOUND",
                    f"Provided external ID field does not exist or is not accessible: {key}",
                )
            if key_field.name == "Id":
                matches = [r for r in [self._find(sobject, value)] if r and not r["IsDeleted"]]
            else:
                wanted = str(value).casefold()
                matches = [
                    r
                    for r in self.records[sobject.name].values()
                    if not r["IsDeleted"] and str(r.get(key_field.name) or "").casefold() == wanted
                ]
            if len(matches) > 1:
                raise SalesforceError(
                    300,
                    "MULTIPLE_RECORDS",
                    ", ".join(
                        f"/services/data/v66.0/sobjects/{sobject.name}/{r['Id']}" for r in matches
                    ),
                )
            if matches:
                self.update(name, matches[0]["Id"], values)
                return False, matches[0]["Id"]
            return True, self.insert(name, {**values, key_field.name: value})

    def collection(
        self, method: str, records: list[dict[str, Any]], all_or_none: bool
    ) -> list[dict[str, Any]]:
        """sObject Collections create (POST) or update (PATCH): one result per record, in
        order, with per-record errors under `statusCode`; all or none rolls every record back
        when one fails."""
        if len(records) > 200:
            raise SalesforceError(
                400,
                "EXCEEDED_ID_LIMIT",
                "record limit reached. cannot submit more than 200 records into this call",
            )
        with self.lock:
            saved = (
                {
                    name: {rid: dict(r) for rid, r in rows.items()}
                    for name, rows in self.records.items()
                }
                if all_or_none
                else None
            )
            results = [self._one(method, r) for r in records]
            if all_or_none and any(not r["success"] for r in results):
                self.records = saved  # type: ignore[assignment]
                return [
                    r
                    if not r["success"]
                    else {
                        "id": r["id"],
                        "success": False,
                        "errors": [
                            {
                                "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                                "message": _ROLLED_BACK,
                                "fields": [],
                            }
                        ],
                    }
                    for r in results
                ]
            return results

    def _one(self, method: str, record: dict[str, Any]) -> dict[str, Any]:
        attributes = record.get("attributes") or {}
        record_id = record.get("id") or record.get("Id")
        values = {k: v for k, v in record.items() if k not in ("attributes", "id", "Id")}
        try:
            kind = attributes.get("type")
            if not kind:
                raise SalesforceError(
                    400, "INVALID_TYPE", "No SObject Type defined in attributes", []
                )
            if method == "POST":
                return {"id": self.insert(kind, values), "success": True, "errors": []}
            if not record_id:
                raise SalesforceError(
                    400, "MISSING_ARGUMENT", "Id not specified in an update call", []
                )
            if self._lock_fails(record_id):
                raise SalesforceError(
                    400,
                    "UNABLE_TO_LOCK_ROW",
                    "unable to obtain exclusive access to this record",
                    [],
                )
            self.update(kind, record_id, values)
            return {"id": ids.normalize(record_id), "success": True, "errors": []}
        except SalesforceError as error:
            return {
                "id": record_id if method != "POST" else None,
                "success": False,
                "errors": [
                    {
                        "statusCode": error.code,
                        "message": error.message,
                        "fields": error.fields or [],
                    }
                ],
            }

    def _lock_fails(self, record_id: str) -> bool:
        full = ids.normalize(record_id) or record_id
        if full in self.faults.lock_failures:
            self.faults.lock_failures.discard(full)
            return True
        return (
            self.faults.lock_failure_rate > 0 and self._rng.random() < self.faults.lock_failure_rate
        )

    # -- trusted helpers: what users and Salesforce itself do ---------------------------------

    def convert_lead(
        self,
        lead_id: str,
        *,
        account_id: str | None = None,
        opportunity: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> str:
        """Convert a lead as a user does: a contact (and an account unless given, and an
        opportunity if asked) from it; the lead keeps their ids. Returns the contact's id."""
        with self.lock:
            lead = self._find(OBJECTS["Lead"], lead_id)
            if lead is None or lead["IsConverted"]:
                raise SalesforceError(400, "INVALID_STATUS", "this lead cannot be converted")
            if account_id is None:
                account_id = self.insert("Account", {"Name": lead["Company"]}, trusted=True, at=at)
            person = {
                f: lead[f]
                for f in (
                    "FirstName",
                    "LastName",
                    "Email",
                    "Title",
                    "Phone",
                    "LeadSource",
                    "OwnerId",
                    "HasOptedOutOfEmail",
                    "EmailBouncedDate",
                )
            }
            person.update(
                AccountId=account_id, MailingCountry=lead["Country"], MailingCity=lead["City"]
            )
            contact_id = self.insert("Contact", person, trusted=True, at=at)
            opportunity_id = None
            if opportunity is not None:
                opportunity_id = self.insert(
                    "Opportunity", {**opportunity, "AccountId": account_id}, trusted=True, at=at
                )
                self.insert(
                    "OpportunityContactRole",
                    {"OpportunityId": opportunity_id, "ContactId": contact_id, "IsPrimary": True},
                    trusted=True,
                    at=at,
                )
            stamp = at or self.now()
            self.update(
                "Lead",
                lead["Id"],
                {
                    "Status": "Closed - Converted",
                    "IsConverted": True,
                    "ConvertedDate": stamp.date().isoformat(),
                    "ConvertedContactId": contact_id,
                    "ConvertedAccountId": account_id,
                    "ConvertedOpportunityId": opportunity_id,
                },
                trusted=True,
                at=stamp,
            )
            return contact_id

    def merge(self, name: str, master_id: str, duplicate_id: str) -> None:
        """Merge `duplicate_id` into `master_id`: the duplicate is deleted and points at it."""
        with self.lock:
            sobject = self.sobject(name)
            duplicate = self._find(sobject, duplicate_id)
            if duplicate is None:
                raise not_found()
            stamp = self._stamp(None)
            duplicate.update(
                IsDeleted=True,
                MasterRecordId=ids.normalize(master_id),
                SystemModstamp=stamp,
                LastModifiedDate=stamp,
            )

    def updated(self, name: str, start: datetime, end: datetime, deleted: bool) -> dict[str, Any]:
        """sobjects/{name}/updated or /deleted: ids changed (or deleted) in [start, end]."""
        with self.lock:
            sobject = self.sobject(name)
            hits = []
            for record in self.records[sobject.name].values():
                at = soql.parse_datetime(record["SystemModstamp"])
                if start <= at <= end and bool(record["IsDeleted"]) == deleted:
                    hits.append(record)
            covered = soql.render_datetime(min(end, self.now()))
            if deleted:
                return {
                    "deletedRecords": [
                        {"id": r["Id"], "deletedDate": r["SystemModstamp"]} for r in hits
                    ],
                    "earliestDateAvailable": soql.render_datetime(start),
                    "latestDateCovered": covered,
                }
            return {"ids": [r["Id"] for r in hits], "latestDateCovered": covered}


def _defaults(name: str) -> dict[str, Any]:
    return {
        "Lead": {
            "Status": "Open - Not Contacted",
            "HasOptedOutOfEmail": False,
            "IsConverted": False,
        },
        "Contact": {"HasOptedOutOfEmail": False},
        "Task": {"Status": "Not Started", "Priority": "Normal", "TaskSubtype": "Task"},
        "Event": {"EventSubtype": "Event"},
        "CampaignMember": {"Status": "Sent"},
        "Campaign": {"IsActive": True},
        "User": {"IsActive": True},
        "OpportunityContactRole": {"IsPrimary": False},
    }.get(name, {})


def _derive(name: str, record: dict[str, Any], stamp: str) -> None:
    """The fields Salesforce computes from others."""
    if name in ("Lead", "Contact", "User"):
        record["Name"] = " ".join(p for p in (record.get("FirstName"), record.get("LastName")) if p)
    if name == "Task":
        record["IsClosed"] = record.get("Status") == "Completed"
        if record["IsClosed"] and not record.get("CompletedDateTime"):
            record["CompletedDateTime"] = stamp
    if name == "Opportunity":
        stage = record.get("StageName")
        record["IsClosed"] = stage in ("Closed Won", "Closed Lost")
        record["IsWon"] = stage == "Closed Won"
    if name == "CampaignMember":
        record["LeadOrContactId"] = record.get("ContactId") or record.get("LeadId")
        record["HasResponded"] = record.get("Status") == "Responded"
        if record["HasResponded"] and not record.get("FirstRespondedDate"):
            record["FirstRespondedDate"] = stamp[:10]


def _coerce(f: Field, raw: Any) -> Any:
    """A written value in the form the API stores and returns for the field's type."""
    if raw is None or raw == "":
        return None
    try:
        if f.type == "boolean":
            if isinstance(raw, bool):
                return raw
            if str(raw).lower() in ("true", "false"):
                return str(raw).lower() == "true"
            raise ValueError(raw)
        if f.type == "int":
            return int(raw)
        if f.type in ("double", "currency", "percent"):
            return float(raw)
        if f.type == "datetime":
            at = (
                raw
                if isinstance(raw, datetime)
                else datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
            )
            if at.tzinfo is None:
                at = at.replace(tzinfo=UTC)
            return soql.render_datetime(at.replace(microsecond=0))
        if f.type == "date":
            return (raw if isinstance(raw, date) else date.fromisoformat(str(raw)[:10])).isoformat()
        if f.type in ("reference", "id"):
            full = ids.normalize(str(raw))
            if full is None:
                raise SalesforceError(
                    400, "MALFORMED_ID", f"{f.name}: id value of incorrect type: {raw}", [f.name]
                )
            return full
    except (TypeError, ValueError) as error:
        raise SalesforceError(
            400,
            "INVALID_TYPE_ON_FIELD_IN_RECORD",
            f"{f.name}: value not of required type: {raw}",
            [f.name],
        ) from error
    text = str(raw)
    if f.length and len(text) > f.length and f.type not in ("textarea",):
        raise SalesforceError(
            400,
            "STRING_TOO_LONG",
            f"{f.name}: data value too large: {text[:40]}... (max length={f.length})",
            [f.name],
        )
    return text
