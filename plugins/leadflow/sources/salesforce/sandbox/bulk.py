"""Bulk API 2.0 over an Org: query jobs (CSV results paged by locator, the string "null" on
the last page) and ingest jobs (CSV upload, UploadComplete, per-record results as CSV).

A job runs when it is closed (a query job when created), so its first status read already
says JobComplete; clients poll either way.
"""

from __future__ import annotations

import base64
import csv
import io
import threading
from dataclasses import dataclass, field
from typing import Any

from leadflow.sources.salesforce import ids
from leadflow.sources.salesforce.sandbox import soql
from leadflow.sources.salesforce.sandbox.errors import SalesforceError
from leadflow.sources.salesforce.sandbox.org import Org

QUERY_OPERATIONS = ("query", "queryAll")
INGEST_OPERATIONS = ("insert", "update", "upsert", "delete")


@dataclass
class Job:
    id: str
    operation: str
    version: str
    created: str
    object: str = ""
    query: str = ""
    external_id: str = ""
    delimiter: str = ","
    line_ending: str = "\n"
    state: str = "Open"
    data: list[str] = field(default_factory=list)  # uploaded CSV parts (ingest)
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)  # query results
    processed: int = 0
    failed: int = 0
    successes: list[dict[str, str]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)
    unprocessed: list[dict[str, str]] = field(default_factory=list)
    error: str = ""

    def info(self, kind: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.object,
            "createdById": "",
            "createdDate": self.created,
            "systemModstamp": self.created,
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.version),
            "jobType": "V2Query" if kind == "query" else "V2Ingest",
            "lineEnding": "LF" if self.line_ending == "\n" else "CRLF",
            "columnDelimiter": _DELIMITER_NAMES[self.delimiter],
        }
        if kind == "query":
            body["numberRecordsProcessed"] = len(self.rows)
        else:
            body.update(
                externalIdFieldName=self.external_id or None,
                numberRecordsProcessed=self.processed,
                numberRecordsFailed=self.failed,
            )
        if self.error:
            body["errorMessage"] = self.error
        return body


_DELIMITERS = {"COMMA": ",", "TAB": "\t", "SEMICOLON": ";", "PIPE": "|", "CARET": "^"}
_DELIMITER_NAMES = {v: k for k, v in _DELIMITERS.items()}
_LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}


class Bulk:
    def __init__(self, org: Org) -> None:
        self.org = org
        self.jobs: dict[str, Job] = {}
        self._next = 1
        self._lock = threading.Lock()

    def _job(self, kind: str, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        is_query = job is not None and job.operation in QUERY_OPERATIONS
        if job is None or is_query != (kind == "query"):
            raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
        return job

    def create(self, kind: str, body: dict[str, Any], version: str) -> dict[str, Any]:
        operation = body.get("operation")
        allowed = QUERY_OPERATIONS if kind == "query" else INGEST_OPERATIONS
        if operation not in allowed:
            raise SalesforceError(
                400, "INVALIDJOB", f"Invalid operation: {operation}; expected one of {allowed}"
            )
        delimiter = _DELIMITERS.get(body.get("columnDelimiter") or "COMMA")
        line_ending = _LINE_ENDINGS.get(body.get("lineEnding") or "LF")
        if delimiter is None or line_ending is None:
            raise SalesforceError(400, "INVALIDJOB", "Invalid columnDelimiter or lineEnding")
        with self._lock:
            job_id = ids.make_id("750", self._next)
            self._next += 1
        job = Job(
            job_id,
            operation,
            version,
            soql.render_datetime(self.org.now()),
            delimiter=delimiter,
            line_ending=line_ending,
        )
        if kind == "query":
            job.query = body.get("query") or ""
            self._run_query(job)
        else:
            sobject = self.org.sobject(str(body.get("object") or ""))
            job.object = sobject.name
            if operation == "upsert":
                key = sobject.field(str(body.get("externalIdFieldName") or ""))
                if key is None or not (key.external_id or key.name == "Id"):
                    raise SalesforceError(
                        400, "INVALIDJOB", "The external ID field is not valid for this object"
                    )
                job.external_id = key.name
        self.jobs[job.id] = job
        return job.info(kind)

    def _run_query(self, job: Job) -> None:
        page = self.org.query(
            job.query,
            include_deleted=job.operation == "queryAll",
            batch=10**9,
            version=job.version,
        )
        rows = page["records"]
        parsed = soql.parse(job.query)
        job.object = parsed.sobject.name
        job.header = [f.name for f in parsed.fields]
        job.rows = [[_csv_value(r.get(name)) for name in job.header] for r in rows]
        job.state = "JobComplete"

    def get(self, kind: str, job_id: str) -> dict[str, Any]:
        return self._job(kind, job_id).info(kind)

    def results(
        self, job_id: str, locator: str | None, max_records: int | None, version: str
    ) -> tuple[str, str, int]:
        """One page of a query job's CSV: (csv, next locator or "null", rows in it)."""
        job = self._job("query", job_id)
        if job.version != version:
            raise SalesforceError(
                409,
                "INVALIDJOBSTATE",
                f"Job {job_id} was created with API version {job.version}; use it to read results",
            )
        if job.state != "JobComplete":
            raise SalesforceError(400, "INVALIDJOBSTATE", "Job is not complete")
        start = _offset(locator)
        size = max_records or 50_000
        page = job.rows[start : start + size]
        following = start + len(page)
        nxt = _locator(following) if following < len(job.rows) else "null"
        return self._csv(job, job.header, page), nxt, len(page)

    def upload(self, job_id: str, data: str) -> None:
        job = self._job("ingest", job_id)
        if job.state != "Open":
            raise SalesforceError(409, "INVALIDJOBSTATE", "Job is not open for upload")
        job.data.append(data)

    def set_state(self, kind: str, job_id: str, state: str) -> dict[str, Any]:
        job = self._job(kind, job_id)
        if state == "Aborted":
            if job.state in ("JobComplete", "Failed"):
                raise SalesforceError(409, "INVALIDJOBSTATE", "Job is already finished")
            job.state = "Aborted"
        elif state == "UploadComplete" and kind == "ingest":
            if job.state != "Open":
                raise SalesforceError(409, "INVALIDJOBSTATE", "Job is not open")
            job.state = "UploadComplete"
            self._run_ingest(job)
        else:
            raise SalesforceError(400, "INVALIDJOBSTATE", f"Invalid state: {state}")
        return job.info(kind)

    def delete(self, kind: str, job_id: str) -> None:
        job = self._job(kind, job_id)
        if job.state not in ("JobComplete", "Aborted", "Failed", "UploadComplete"):
            raise SalesforceError(409, "INVALIDJOBSTATE", "Job is still open")
        del self.jobs[job_id]

    def _run_ingest(self, job: Job) -> None:
        rows: list[dict[str, str]] = []
        for part in job.data:
            reader = csv.DictReader(io.StringIO(part), delimiter=job.delimiter)
            rows.extend(dict(r) for r in reader)
        for row in rows:
            values = {k: (None if v in ("", "#N/A") else v) for k, v in row.items()}
            try:
                created, record_id = self._ingest_one(job, values)
            except SalesforceError as error:
                job.failures.append(
                    {"sf__Id": "", "sf__Error": f"{error.code}:{error.message}", **row}
                )
                job.failed += 1
            else:
                job.successes.append(
                    {"sf__Id": record_id, "sf__Created": str(created).lower(), **row}
                )
            job.processed += 1
        job.state = "JobComplete"

    def _ingest_one(self, job: Job, values: dict[str, Any]) -> tuple[bool, str]:
        org = self.org
        if job.operation == "insert":
            return True, org.insert(job.object, values)
        if job.operation == "upsert":
            key = values.pop(job.external_id, None)
            if not key:
                raise SalesforceError(400, "MISSING_ARGUMENT", f"{job.external_id} not specified")
            return org.upsert(job.object, job.external_id, str(key), values)
        record_id = values.pop("Id", None)
        if not record_id:
            raise SalesforceError(400, "MISSING_ARGUMENT", "Id not specified in an update call")
        if job.operation == "delete":
            org.delete(job.object, record_id)
        else:
            org.update(job.object, record_id, values)
        return False, ids.normalize(record_id) or record_id

    def ingest_results(self, job_id: str, which: str) -> str:
        job = self._job("ingest", job_id)
        rows = {
            "successfulResults": job.successes,
            "failedResults": job.failures,
            "unprocessedrecords": job.unprocessed,
        }[which]
        first = {
            "successfulResults": ["sf__Id", "sf__Created"],
            "failedResults": ["sf__Id", "sf__Error"],
        }
        columns = first.get(which, [])
        for row in rows:
            columns += [k for k in row if k not in columns]
        return self._csv(job, columns, [[r.get(c) or "" for c in columns] for r in rows])

    @staticmethod
    def _csv(job: Job, header: list[str], rows: list[list[str]]) -> str:
        out = io.StringIO()
        writer = csv.writer(
            out, delimiter=job.delimiter, lineterminator=job.line_ending, quoting=csv.QUOTE_ALL
        )
        if header:
            writer.writerow(header)
        writer.writerows(rows)
        return out.getvalue()


def _csv_value(value: Any) -> str:
    """Bulk 2.0's CSV forms: empty for null, true/false, datetimes in UTC with a Z."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str) and len(value) == 28 and value.endswith("+0000"):
        return value[:-5] + "Z"
    return str(value)


def _locator(offset: int) -> str:
    """Salesforce's locators read as the base64 of the next row's offset (MTAwMDA = 10000)."""
    return base64.b64encode(str(offset).encode()).decode().rstrip("=")


def _offset(locator: str | None) -> int:
    if not locator or locator == "null":
        return 0
    try:
        return int(base64.b64decode(locator + "=" * (-len(locator) % 4)).decode())
    except ValueError as error:
        raise SalesforceError(400, "INVALID_LOCATOR", f"Invalid locator: {locator}") from error
