"""Salesforce's REST paths over an Org and its Bulk jobs: each route takes a parsed request and
returns a Reply. Paths are matched without a trailing slash (simple-salesforce adds one)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from leadflow.sources.salesforce.sandbox.bulk import Bulk
from leadflow.sources.salesforce.sandbox.errors import SalesforceError
from leadflow.sources.salesforce.sandbox.org import API_VERSIONS, Org
from leadflow.sources.salesforce.sandbox.schema import OBJECTS

_SEG = "([^/]+)"


@dataclass
class Request:
    method: str
    version: str
    params: tuple[str, ...]
    query: dict[str, list[str]]
    body: bytes
    headers: dict[str, str]

    def arg(self, name: str) -> str | None:
        found = self.query.get(name)
        return found[-1] if found else None

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError as error:
            raise SalesforceError(
                400, "JSON_PARSER_ERROR", f"Unexpected character in the body: {error}"
            ) from error


@dataclass
class Reply:
    status: int
    body: Any = None  # JSON, or text with a content type
    content_type: str = "application/json;charset=UTF-8"
    headers: dict[str, str] = field(default_factory=dict)

    def payload(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


Handler = Callable[[Request], Reply]


class Routes:
    def __init__(self, org: Org, bulk: Bulk) -> None:
        self.org = org
        self.bulk = bulk
        self.table: list[tuple[str, re.Pattern[str], Handler]] = []
        add = self._add
        add("GET", "", self.resources)
        add("GET", "limits", self.limits)
        add("GET", "query", lambda req: self.query(req, include_deleted=False))
        add("GET", "queryAll", lambda req: self.query(req, include_deleted=True))
        add("GET", f"(?:query|queryAll)/{_SEG}", self.query_more)
        add("GET", "sobjects", self.global_describe)
        add("GET", f"sobjects/{_SEG}", self.object_info)
        add("POST", f"sobjects/{_SEG}", self.create)
        add("GET", f"sobjects/{_SEG}/describe", self.describe)
        add("GET", f"sobjects/{_SEG}/updated", self.updated)
        add("GET", f"sobjects/{_SEG}/deleted", self.deleted)
        add("GET", f"sobjects/{_SEG}/{_SEG}", self.read)
        add("PATCH", f"sobjects/{_SEG}/{_SEG}", self.update)
        add("DELETE", f"sobjects/{_SEG}/{_SEG}", self.delete)
        add("PATCH", f"sobjects/{_SEG}/{_SEG}/{_SEG}", self.upsert)
        add("POST", "composite/sobjects", self.collection)
        add("PATCH", "composite/sobjects", self.collection)
        add("DELETE", "composite/sobjects", self.collection_delete)
        add("GET", f"composite/sobjects/{_SEG}", self.collection_read)
        add("POST", "jobs/(query|ingest)", self.job_create)
        add("GET", f"jobs/(query|ingest)/{_SEG}", self.job_get)
        add("PATCH", f"jobs/(query|ingest)/{_SEG}", self.job_state)
        add("DELETE", f"jobs/(query|ingest)/{_SEG}", self.job_delete)
        add("GET", f"jobs/query/{_SEG}/results", self.job_results)
        add("PUT", f"jobs/ingest/{_SEG}/batches", self.job_upload)
        add(
            "GET",
            f"jobs/ingest/{_SEG}/(successfulResults|failedResults|unprocessedrecords)",
            self.job_ingest_results,
        )

    def _add(self, method: str, path: str, handler: Handler) -> None:
        self.table.append((method, re.compile(path), handler))

    def find(self, method: str, path: str) -> tuple[Handler, tuple[str, ...]] | None:
        """The handler of `path` (after /services/data/vXX.X/) and its parameters."""
        allowed = False
        for verb, pattern, handler in self.table:
            match = pattern.fullmatch(path)
            if match:
                if verb == method:
                    return handler, match.groups()
                allowed = True
        if allowed:
            raise SalesforceError(
                405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed. "
            )
        return None

    # -- the API's root and limits -------------------------------------------------------------

    @staticmethod
    def versions() -> Reply:
        return Reply(
            200,
            [{"label": f"v{v}", "url": f"/services/data/v{v}", "version": v} for v in API_VERSIONS],
        )

    def resources(self, req: Request) -> Reply:
        base = f"/services/data/v{req.version}"
        names = ("sobjects", "query", "queryAll", "limits", "composite", "jobs")
        return Reply(200, {name: f"{base}/{name}" for name in names})

    def limits(self, req: Request) -> Reply:
        return Reply(200, self.org.limits())

    # -- query ---------------------------------------------------------------------------------

    def query(self, req: Request, include_deleted: bool) -> Reply:
        text = req.arg("q")
        if not text:
            raise SalesforceError(400, "MALFORMED_QUERY", "A query string has to be specified")
        batch = _batch_size(req.headers.get("sforce-query-options", ""))
        return Reply(
            200,
            self.org.query(text, include_deleted=include_deleted, batch=batch, version=req.version),
        )

    def query_more(self, req: Request) -> Reply:
        return Reply(200, self.org.query_more(req.params[0], req.version))

    # -- sObjects ------------------------------------------------------------------------------

    def global_describe(self, req: Request) -> Reply:
        return Reply(
            200,
            {
                "encoding": "UTF-8",
                "maxBatchSize": 200,
                "sobjects": [o.summary(req.version) for o in OBJECTS.values()],
            },
        )

    def object_info(self, req: Request) -> Reply:
        sobject = self.org.sobject(req.params[0])
        return Reply(200, {"objectDescribe": sobject.summary(req.version), "recentItems": []})

    def describe(self, req: Request) -> Reply:
        sobject = self.org.sobject(req.params[0])
        body = sobject.describe(req.version)
        body["fields"] = self.org.describe_fields(sobject)
        return Reply(200, body)

    def create(self, req: Request) -> Reply:
        record_id = self.org.insert(req.params[0], _object(req.json()))
        return Reply(201, {"id": record_id, "success": True, "errors": []})

    def read(self, req: Request) -> Reply:
        fields = req.arg("fields")
        names = [n.strip() for n in fields.split(",")] if fields else None
        return Reply(200, self.org.get(req.params[0], req.params[1], names))

    def update(self, req: Request) -> Reply:
        self.org.update(req.params[0], req.params[1], _object(req.json()))
        return Reply(204)

    def delete(self, req: Request) -> Reply:
        self.org.delete(req.params[0], req.params[1])
        return Reply(204)

    def upsert(self, req: Request) -> Reply:
        name, key, value = req.params
        created, record_id = self.org.upsert(name, key, value, _object(req.json()))
        # Since API 46.0 an update by upsert answers 200 with a body, a create 201.
        return Reply(
            201 if created else 200,
            {"id": record_id, "success": True, "errors": [], "created": created},
        )

    def updated(self, req: Request) -> Reply:
        return self._changes(req, deleted=False)

    def deleted(self, req: Request) -> Reply:
        return self._changes(req, deleted=True)

    def _changes(self, req: Request, deleted: bool) -> Reply:
        try:
            start = datetime.fromisoformat((req.arg("start") or "").replace("Z", "+00:00"))
            end = datetime.fromisoformat((req.arg("end") or "").replace("Z", "+00:00"))
        except ValueError as error:
            raise SalesforceError(
                400, "INVALID_REPLICATION_DATE", "start and end must be ISO-8601 datetimes"
            ) from error
        return Reply(200, self.org.updated(req.params[0], start, end, deleted))

    # -- sObject Collections -------------------------------------------------------------------

    def collection(self, req: Request) -> Reply:
        body = _object(req.json())
        records = body.get("records")
        if not isinstance(records, list) or not records:
            raise SalesforceError(400, "INVALID_FIELD", "records: a list of records is required")
        all_or_none = bool(body.get("allOrNone", False))
        return Reply(200, self.org.collection(req.method, records, all_or_none))

    def collection_delete(self, req: Request) -> Reply:
        wanted = [i for i in (req.arg("ids") or "").split(",") if i]
        if not wanted:
            raise SalesforceError(400, "MISSING_ARGUMENT", "ids is required")
        return Reply(200, self.org.delete_ids(wanted))

    def collection_read(self, req: Request) -> Reply:
        wanted = [i for i in (req.arg("ids") or "").split(",") if i]
        fields = [f for f in (req.arg("fields") or "").split(",") if f]
        if not wanted or not fields:
            raise SalesforceError(400, "MISSING_ARGUMENT", "ids and fields are required")
        out: list[dict[str, Any] | None] = []
        for record_id in wanted:
            try:
                out.append(self.org.get(req.params[0], record_id, fields))
            except SalesforceError as error:
                if error.status != 404:
                    raise
                out.append(None)
        return Reply(200, out)

    # -- Bulk API 2.0 --------------------------------------------------------------------------

    def job_create(self, req: Request) -> Reply:
        return Reply(200, self.bulk.create(req.params[0], _object(req.json()), req.version))

    def job_get(self, req: Request) -> Reply:
        return Reply(200, self.bulk.get(*req.params))

    def job_state(self, req: Request) -> Reply:
        state = str(_object(req.json()).get("state") or "")
        return Reply(200, self.bulk.set_state(req.params[0], req.params[1], state))

    def job_delete(self, req: Request) -> Reply:
        self.bulk.delete(*req.params)
        return Reply(204)

    def job_results(self, req: Request) -> Reply:
        max_records = req.arg("maxRecords")
        if max_records is not None and not max_records.isdigit():
            raise SalesforceError(400, "INVALIDREQUEST", "maxRecords must be a positive integer")
        text, locator, count = self.bulk.results(
            req.params[0],
            req.arg("locator"),
            int(max_records) if max_records else None,
            req.version,
        )
        headers = {"Sforce-Locator": locator, "Sforce-NumberOfRecords": str(count)}
        return Reply(200, text, "text/csv", headers)

    def job_upload(self, req: Request) -> Reply:
        if not req.headers.get("content-type", "").startswith("text/csv"):
            raise SalesforceError(400, "INVALIDREQUEST", "Content-Type must be text/csv")
        self.bulk.upload(req.params[0], req.body.decode("utf-8"))
        return Reply(201)

    def job_ingest_results(self, req: Request) -> Reply:
        return Reply(200, self.bulk.ingest_results(*req.params), "text/csv")


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise SalesforceError(
            400, "JSON_PARSER_ERROR", "Cannot deserialize instance of object from the body"
        )
    return body


def _batch_size(options: str) -> int:
    """Sforce-Query-Options: batchSize=N (200 to 2,000; Salesforce may use less)."""
    for part in options.split(","):
        key, _, value = part.strip().partition("=")
        if key == "batchSize" and value.isdigit():
            return min(2000, max(200, int(value)))
    return 2000


def parse_form(body: bytes) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
