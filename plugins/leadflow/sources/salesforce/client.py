"""Salesforce REST client: the only code that speaks HTTP to Salesforce, every endpoint leadflow
calls in one place.

The same client talks to a My Domain org in production and to the sandbox in the demo and
tests. It logs in with OAuth 2.0 client credentials (the flow Salesforce tells integrations to
move to) and logs in again once when a session expires (INVALID_SESSION_ID); retries 5xx and
timeouts with backoff; reads the daily allocation from every answer's Sforce-Limit-Info and
stops, saying so, before leadflow would eat into the share reserved for other integrations.
"""

from __future__ import annotations

import csv
import io
import logging
import random
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from leadflow.batches import chunks
from leadflow.errors import ConfigError, ServiceUnreachable, SourceError
from leadflow.sources.salesforce.settings import SalesforceSettings

log = logging.getLogger(__name__)

TOKEN = "/services/oauth2/token"
DATA = "/services/data/v{version}"
QUERY = "/query"
QUERY_ALL = "/queryAll"
LIMITS = "/limits"
DESCRIBE = "/sobjects/{object}/describe"
COLLECTIONS = "/composite/sobjects"
BULK_QUERY = "/jobs/query"
COLLECTION_SIZE = 200  # records per sObject Collections request
BULK_PAGE = 50_000  # rows per Bulk API 2.0 results page
_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")
_RETRYABLE = {500, 502, 503, 504}


class SalesforceApiError(SourceError):
    """An error answer: Salesforce's first error code and message, and the HTTP status."""


class ApiAllocationReserved(SourceError):
    """The daily API allocation is down to the share reserved for other integrations."""

    retryable = False


@dataclass
class Usage:
    used: int
    allowed: int

    @property
    def remaining(self) -> int:
        return self.allowed - self.used


def literal(at: datetime) -> str:
    """A SOQL datetime literal, unquoted, in whole seconds (Salesforce stores no fractions)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """A datetime as the REST API renders it (2026-11-30T10:00:00.000+0000) or Bulk's (...Z)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00").replace("+0000", "+00:00"))


class SalesforceClient:
    def __init__(self, settings: SalesforceSettings, transport: httpx.BaseTransport | None = None):
        self.settings = settings
        verify: Any = settings.ca_file or True
        self._http = httpx.Client(
            timeout=settings.timeout_s, verify=verify, trust_env=False, transport=transport
        )
        self._token: str | None = None
        self.instance_url = settings.base_url
        self.usage: Usage | None = None
        self.requests_sent = 0

    def __enter__(self) -> SalesforceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- auth ----------------------------------------------------------------------------------

    def login(self) -> None:
        """OAuth 2.0 client credentials against the My Domain host; data calls then go to the
        instance_url it answers with."""
        url = f"{self.settings.base_url}{TOKEN}"
        form = {
            "grant_type": "client_credentials",
            "client_id": self.settings.client_id,
            "client_secret": self.settings.client_secret,
        }
        try:
            answer = self._http.post(url, data=form)
        except httpx.TransportError as exc:
            raise ServiceUnreachable(
                f"Salesforce at {self.settings.base_url} did not answer ({exc.__class__.__name__}):"
                " check the connection's host (your My Domain URL)."
            ) from exc
        if answer.status_code != 200:
            detail = _oauth_error(answer)
            raise ConfigError(
                f"Salesforce refused the login ({detail}): check the connected app's client id "
                "and secret, and that it allows the client credentials flow with a run-as user."
            )
        body = answer.json()
        self._token = body["access_token"]
        self.instance_url = body.get("instance_url") or self.settings.base_url

    # -- requests ------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        if path.startswith("/services/"):
            return f"{self.instance_url}{path}"
        return f"{self.instance_url}{DATA.format(version=self.settings.api_version)}{path}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """One API call: logged in, within the allocation, retried on 5xx and timeouts, once
        more after a fresh login when the session expired; errors raise SalesforceApiError."""
        if self._token is None:
            self.login()
        if self.usage is None and path != LIMITS and not path.startswith("/services/"):
            self.limits()  # a client's first data call learns where the allocation stands
        self._check_reserve()
        relogged = False
        attempt = 0
        while True:
            attempt += 1
            sent = {"Authorization": f"Bearer {self._token}", **(headers or {})}
            try:
                answer = self._http.request(
                    method, self._url(path), params=params, json=json, headers=sent
                )
            except httpx.TransportError as exc:
                if attempt >= self.settings.max_attempts:
                    raise ServiceUnreachable(
                        f"Salesforce did not answer {method} {path} after {attempt} tries"
                        f" ({exc.__class__.__name__})"
                    ) from exc
                self._wait(attempt)
                continue
            self.requests_sent += 1
            self._read_usage(answer)
            if answer.status_code == 401 and _code(answer) == "INVALID_SESSION_ID" and not relogged:
                log.info("Salesforce session expired; logging in again")
                self.login()
                relogged = True
                continue
            if answer.status_code in _RETRYABLE and attempt < self.settings.max_attempts:
                self._wait(attempt)
                continue
            if answer.status_code >= 300:
                raise _api_error(method, path, answer)
            return answer

    def _wait(self, attempt: int) -> None:
        time.sleep(self.settings.backoff_s * 2 ** (attempt - 1) * (0.5 + random.random()))

    def _read_usage(self, answer: httpx.Response) -> None:
        match = _USAGE.search(answer.headers.get("Sforce-Limit-Info", ""))
        if match:
            self.usage = Usage(int(match.group(1)), int(match.group(2)))

    def reserve(self, allowed: int) -> float:
        """The requests of a daily allocation of `allowed` that leadflow leaves unused."""
        return allowed * self.settings.api_reserve_percent / 100

    def _check_reserve(self) -> None:
        usage = self.usage
        if usage is None:
            return
        if usage.remaining <= self.reserve(usage.allowed):
            raise ApiAllocationReserved(
                f"Salesforce's daily API allocation is at {usage.used:,} of {usage.allowed:,}: "
                f"leadflow stops with {usage.remaining:,} left, the "
                f"{self.settings.api_reserve_percent:g}% reserved for other integrations "
                "(extra 'api_reserve_percent'). The allocation is a rolling 24 hours; the next "
                "run continues from the saved cursors."
            )

    # -- reads ---------------------------------------------------------------------------------

    def versions(self) -> list[str]:
        """The API versions the org serves (this call does not count against the allocation)."""
        return [v["version"] for v in self.request("GET", "/services/data").json()]

    def limits(self) -> dict[str, Any]:
        return self.request("GET", LIMITS).json()

    def describe(self, sobject: str) -> dict[str, Any]:
        return self.request("GET", DESCRIBE.format(object=sobject)).json()

    def query(self, soql: str, *, include_deleted: bool = False) -> Iterator[dict[str, Any]]:
        """Every record of a SOQL query, page after page through nextRecordsUrl; queryAll
        (include_deleted) also returns the recycle bin and merged-away records."""
        options = {"Sforce-Query-Options": f"batchSize={self.settings.query_batch_size}"}
        path = QUERY_ALL if include_deleted else QUERY
        page = self.request("GET", path, params={"q": soql}, headers=options).json()
        while True:
            for record in page["records"]:
                record.pop("attributes", None)
                yield record
            if page.get("done", True) or not page.get("nextRecordsUrl"):
                return
            page = self.request("GET", page["nextRecordsUrl"], headers=options).json()

    def changed(
        self,
        sobject: str,
        fields: Sequence[str],
        after: tuple[datetime, str] | None,
        until: datetime,
        *,
        include_deleted: bool = False,
        stamp: str = "SystemModstamp",
    ) -> Iterator[dict[str, Any]]:
        """The records of `sobject` modified after the keyset `after` (stamp, Id) and before
        `until`, in (stamp, Id) order. Salesforce keeps whole seconds, so many records share a
        stamp: ties are ordered by Id and resumed after the last one read, and none is lost or
        read twice at a window's edge."""
        columns = ", ".join(dict.fromkeys(["Id", stamp, *fields]))
        where = [f"{stamp} < {literal(until)}"]
        if after is not None:
            at, last_id = after
            t = literal(at)
            where.append(f"({stamp} > {t} OR ({stamp} = {t} AND Id > '{last_id}'))")
        soql = f"SELECT {columns} FROM {sobject} WHERE {' AND '.join(where)} ORDER BY {stamp}, Id"
        yield from self.query(soql, include_deleted=include_deleted)

    def bulk_query(self, soql: str, *, include_deleted: bool = False) -> Iterator[dict[str, str]]:
        """A Bulk API 2.0 query job's rows (first loads and backfills): create, poll until
        JobComplete, then read the CSV pages by locator until it is "null"."""
        operation = "queryAll" if include_deleted else "query"
        job = self.request("POST", BULK_QUERY, json={"operation": operation, "query": soql}).json()
        path = f"{BULK_QUERY}/{job['id']}"
        wait = 0.5
        while (state := self.request("GET", path).json()["state"]) not in (
            "JobComplete",
            "Failed",
            "Aborted",
        ):
            time.sleep(wait)
            wait = min(wait * 2, 10)
        if state != "JobComplete":
            raise SalesforceApiError(f"Salesforce's bulk query job {job['id']} ended {state}")
        locator: str | None = None
        while True:
            params = {"maxRecords": BULK_PAGE, **({"locator": locator} if locator else {})}
            page = self.request(
                "GET", f"{path}/results", params=params, headers={"Accept": "text/csv"}
            )
            yield from csv.DictReader(io.StringIO(page.text))
            locator = page.headers.get("Sforce-Locator")
            if not locator or locator == "null":
                return

    # -- writes --------------------------------------------------------------------------------

    def create(self, sobject: str, records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Create records through sObject Collections (see `update`)."""
        return self._collection("POST", sobject, records)

    def update(self, sobject: str, records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Update records through sObject Collections, 200 a request with allOrNone false:
        one result per record in order, {id, success, errors: [{statusCode, message}]}."""
        return self._collection("PATCH", sobject, records)

    def _collection(
        self, method: str, sobject: str, records: Sequence[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        for batch in chunks(list(records), COLLECTION_SIZE):
            body = {
                "allOrNone": False,
                "records": [{"attributes": {"type": sobject}, **r} for r in batch],
            }
            results += self.request(method, COLLECTIONS, json=body).json()
        return results

    def retrieve(
        self, sobject: str, record_ids: Sequence[str], fields: Sequence[str]
    ) -> list[dict[str, Any] | None]:
        """Records by id through sObject Collections, 200 a request: one entry per id in
        order, null where Salesforce has no such record (deleted, merged away)."""
        found: list[dict[str, Any] | None] = []
        for batch in chunks(list(record_ids), COLLECTION_SIZE):
            params = {"ids": ",".join(batch), "fields": ",".join(dict.fromkeys(["Id", *fields]))}
            found += self.request("GET", f"{COLLECTIONS}/{sobject}", params=params).json()
        return found

    def delete(self, record_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Delete records through sObject Collections, 200 a request, allOrNone false."""
        results: list[dict[str, Any]] = []
        for batch in chunks(list(record_ids), COLLECTION_SIZE):
            params = {"ids": ",".join(batch), "allOrNone": "false"}
            results += self.request("DELETE", COLLECTIONS, params=params).json()
        return results


def _code(answer: httpx.Response) -> str | None:
    try:
        body = answer.json()
    except ValueError:
        return None
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return body[0].get("errorCode")
    return None


def _api_error(method: str, path: str, answer: httpx.Response) -> SalesforceApiError:
    """Salesforce's JSON error array, as one message (never the request's credentials)."""
    try:
        body = answer.json()
        first = body[0] if isinstance(body, list) and body else {}
        code, message = first.get("errorCode", ""), first.get("message", answer.text[:300])
    except ValueError:
        code, message = "", answer.text[:300]
    return SalesforceApiError(
        f"Salesforce answered {answer.status_code} {code} to {method} {path.split('?')[0]}: "
        f"{message}",
        status=answer.status_code,
        category=code or None,
    )


def _oauth_error(answer: httpx.Response) -> str:
    try:
        body = answer.json()
        return f"{body.get('error')}: {body.get('error_description')}"
    except ValueError:
        return f"HTTP {answer.status_code}"
