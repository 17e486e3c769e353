"""HubSpot API client: the only code that speaks HTTP to HubSpot, every endpoint leadflow calls.

The same client talks to api.hubapi.com in production and to the local sandbox in the demo and
tests. It keeps every request inside one shared budget per token (HubSpot's 10-second window and
the search per-second limit), retries 429/5xx/timeouts with jittered backoff honouring
Retry-After, and turns auth and connection failures into messages that say what to fix.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from leadflow.batches import chunks
from leadflow.errors import ConfigError, ServiceUnreachable, SourceError
from leadflow.sources.hubspot.settings import HubSpotSettings

log = logging.getLogger(__name__)

SEARCH_PAGE = 200
BATCH_SIZE = 100
ASSOCIATION_BATCH = 1000
EVENTS = "/events/v3/events"  # Enterprise-only: an optional stream
# Marketing activity every tier can read; the form submissions and email analytics are v1 APIs
# with no date-versioned successor yet (docs/adr/0002-hubspot-api-versions.md).
FORMS = "/marketing/v3/forms"
FORM_SUBMISSIONS = "/form-integrations/v1/submissions/forms/{form_id}"
SUBMISSIONS_PAGE = 50  # the most HubSpot returns per page
EMAIL_EVENTS = "/email/public/v1/events"
SUBSCRIPTION_TIMELINE = "/email/public/v1/subscriptions/timeline"
EMAIL_PAGE = 1000
LISTS = "/crm/v3/lists/{list_id}"
# Ids per membership change: HubSpot's docs give no limit; leadflow stays at a batch read's.
LIST_BATCH = 1000

# Read endpoints leadflow calls, and the private-app scope each needs (a 403 means it is missing).
SCOPE_PROBES: list[tuple[str, str, dict[str, Any]]] = [
    ("crm.objects.contacts.read", "/crm/v3/objects/contacts", {"limit": 1}),
    ("crm.objects.companies.read", "/crm/v3/objects/companies", {"limit": 1}),
    ("crm.objects.deals.read", "/crm/v3/objects/deals", {"limit": 1}),
    ("crm.objects.owners.read", "/crm/v3/owners", {"limit": 1}),
    ("crm.schemas.contacts.read", "/crm/v3/properties/contacts", {}),
]
# What the optional streams read (a portal's tier or the token's scopes may refuse it), with
# the query that probes it: stream -> (label, path, params, what it needs).
OPTIONAL_APIS: dict[str, tuple[str, str, dict[str, Any], str]] = {
    "events": (
        "events v3",
        EVENTS,
        {"objectType": "contact", "limit": 1},
        "an Enterprise hub (Marketing, Sales, Service, Content or Data Hub) and a token with"
        " its scope",
    ),
    "form_submissions": ("forms", FORMS, {"limit": 1}, "the scope forms"),
    "email_events": (
        "marketing email events",
        EMAIL_EVENTS,
        {"limit": 1},
        "marketing email (Marketing Hub) and the scope content",
    ),
    "subscription_changes": (
        "subscription timeline",
        SUBSCRIPTION_TIMELINE,
        {"limit": 1},
        "the scope content",
    ),
}


class HubSpotError(SourceError):
    """An error answered by HubSpot, carrying its category and correlation id."""


class HubSpotAuthError(HubSpotError, ConfigError):
    """The token was rejected or lacks a scope: retrying cannot help."""

    retryable = False


class HubSpotUnreachable(HubSpotError, ServiceUnreachable):
    """No HTTP answer at all: wrong URL, DNS, network or the CRM is down."""

    retryable = True


# Our windows run a little longer than HubSpot's, so clock skew and network jitter between our
# send time and HubSpot's receive time cannot push request 191 into the window of request 1.
WINDOW_S = 10.1
SEARCH_WINDOW_S = 1.05


class RateBudget:
    """Sliding-window limiter: at most `per_10s` requests per 10 s, `search_per_s` searches per s.

    One budget is shared by every client in the process using the same token and base URL,
    because HubSpot counts per token, not per connection. Other processes spending the same token
    (parallel Airflow tasks) are seen through HubSpot's `X-HubSpot-RateLimit-*` headers
    (`observe`), and a 429 pauses every thread of the budget, not only the one that got it.
    """

    def __init__(self, per_10s: int, search_per_s: int) -> None:
        self.configured = (per_10s, search_per_s)
        self.per_10s = per_10s
        self.search_per_s = search_per_s
        self._all: deque[float] = deque()
        self._search: deque[float] = deque()
        self._paused_until = 0.0
        self._search_paused_until = 0.0
        self._lock = threading.Lock()

    def acquire(self, search: bool = False) -> None:
        while True:
            with self._lock:
                wait = self._wait_time(time.monotonic(), search)
                if wait <= 0:
                    now = time.monotonic()
                    self._all.append(now)
                    if search:
                        self._search.append(now)
                    return
            time.sleep(wait)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Count requests HubSpot saw that this process did not send (another task's)."""
        try:
            maximum = int(headers["X-HubSpot-RateLimit-Max"])
            remaining = int(headers["X-HubSpot-RateLimit-Remaining"])
        except (KeyError, ValueError):
            return
        with self._lock:
            now = time.monotonic()
            self._trim(now)
            self.per_10s = min(self.per_10s, maximum)  # the token's real tier, if lower
            unseen = (maximum - remaining) - len(self._all)
            # Entries stamped `now` keep the deque sorted and expire no earlier than the real
            # ones would: conservative, never over the limit.
            self._all.extend([now] * max(0, unseen))

    def pause(self, seconds: float, search: bool = False) -> None:
        """HubSpot said 429: nobody sharing this token sends anything for `seconds`."""
        with self._lock:
            until = time.monotonic() + seconds
            if search:
                self._search_paused_until = max(self._search_paused_until, until)
            else:
                self._paused_until = max(self._paused_until, until)

    def _trim(self, now: float) -> None:
        while self._all and now - self._all[0] >= WINDOW_S:
            self._all.popleft()
        while self._search and now - self._search[0] >= SEARCH_WINDOW_S:
            self._search.popleft()

    def _wait_time(self, now: float, search: bool) -> float:
        self._trim(now)
        wait = self._paused_until - now
        if len(self._all) >= self.per_10s:
            wait = max(wait, self._all[len(self._all) - self.per_10s] + WINDOW_S - now)
        if search:
            wait = max(wait, self._search_paused_until - now)
            if len(self._search) >= self.search_per_s:
                index = len(self._search) - self.search_per_s
                wait = max(wait, self._search[index] + SEARCH_WINDOW_S - now)
        return wait


_budgets: dict[str, RateBudget] = {}
_budgets_lock = threading.Lock()


def shared_budget(settings: HubSpotSettings) -> RateBudget:
    key = hashlib.sha256(f"{settings.base_url}|{settings.token}".encode()).hexdigest()
    with _budgets_lock:
        budget = _budgets.get(key)
        if budget is None or budget.configured != (
            settings.rate_limit_per_10s,
            settings.search_rate_per_s,
        ):
            budget = _budgets[key] = RateBudget(
                settings.rate_limit_per_10s, settings.search_rate_per_s
            )
        return budget


@dataclass
class BatchResult:
    """Outcome of one batch write: ids that succeeded and a message per failed id."""

    ok: list[dict[str, Any]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def to_millis(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


def parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class HubSpotClient:
    def __init__(self, settings: HubSpotSettings) -> None:
        self.settings = settings
        self.max_attempts = settings.max_attempts
        self.backoff_s = settings.backoff_s
        self.budget = shared_budget(settings)
        self.requests_sent = 0
        self.throttled = 0
        self.retried = 0
        self._http = httpx.Client(
            base_url=settings.base_url,
            headers={"Authorization": f"Bearer {settings.token}", "Accept": "application/json"},
            timeout=settings.timeout_s,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HubSpotClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transport -------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        once: bool = False,
    ) -> httpx.Response:
        """Send one request inside the budget; retry what a retry can fix, raise the rest.

        `once`: a create that is not idempotent; after a lost answer or a 5xx it may have been
        applied, so it is not resent (only a 429, which HubSpot did not apply, is)."""
        search = path.endswith("/search")
        attempt = 0
        while True:
            attempt += 1
            self.budget.acquire(search=search)
            self.requests_sent += 1
            try:
                response = self._http.request(method, path, params=params, json=json)
            except httpx.TransportError as exc:
                if once or attempt >= self.max_attempts:
                    raise HubSpotUnreachable(
                        f"Cannot reach HubSpot at {self.settings.base_url} after {attempt} "
                        f"attempts ({type(exc).__name__}: {exc}). Check the host of the Airflow "
                        "connection 'hubspot_default' and the network."
                    ) from exc
                self.retried += 1
                self._sleep_backoff(attempt)
                continue
            self.budget.observe(response.headers)
            status = response.status_code
            if status == 429:
                # 429s are the CRM pacing us, not failures: they get a longer leash, and the
                # whole budget (every thread on this token) waits, not only this request.
                self.throttled += 1
                if attempt >= self.max_attempts * 4:
                    raise _error_from(response, "HubSpot kept answering 429 (rate limited)")
                secondly = search and _policy(response) == "SECONDLY"
                self.budget.pause(_retry_after(response), search=secondly)
                continue
            if status >= 500:
                if once or attempt >= self.max_attempts:
                    raise _error_from(response, f"HubSpot answered {status} {attempt} times")
                self.retried += 1
                self._sleep_backoff(attempt)
                continue
            if status in (401, 403):
                raise HubSpotAuthError(
                    f"HubSpot rejected the access token (HTTP {status}: "
                    f"{_body_message(response)}). Put a valid private-app token with the CRM "
                    "read/write scopes in the password of the Airflow connection "
                    "'hubspot_default'.",
                    status,
                    "INVALID_AUTHENTICATION" if status == 401 else "MISSING_SCOPES",
                )
            if status >= 400 and status != 404:
                raise _error_from(response, f"HubSpot rejected {method} {path}")
            return response

    def _sleep_backoff(self, attempt: int) -> None:
        time.sleep(random.uniform(0, min(30.0, self.backoff_s * 2 ** (attempt - 1))))

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """The decoded body; a truncated or garbled body (a proxy cut it) is fetched again."""
        attempt = 0
        while True:
            attempt += 1
            response = self.request(method, path, **kwargs)
            if response.status_code == 404:
                raise _error_from(response, f"Not found: {method} {path}")
            if not response.content:
                return {}
            try:
                return response.json()
            except ValueError:
                if attempt >= self.max_attempts:
                    raise HubSpotError(
                        f"HubSpot answered {method} {path} with a body that is not JSON "
                        f"{attempt} times: {response.text[:100]!r}",
                        response.status_code,
                    ) from None
                self.retried += 1
                self._sleep_backoff(attempt)

    # -- reads -----------------------------------------------------------------------------

    def list_objects(
        self,
        object_type: str,
        properties: Iterable[str],
        archived: bool = False,
        history: Sequence[str] = (),
    ) -> Iterator[dict[str, Any]]:
        """Every object of a type, following `paging.next.after`; with `history`, each with
        those properties' past values (propertiesWithHistory), which HubSpot answers in
        smaller pages, so paging follows what it returns."""
        params: dict[str, Any] = {
            "limit": 100,
            "properties": ",".join(properties),
            "archived": str(archived).lower(),
        }
        if history:
            params["propertiesWithHistory"] = ",".join(history)
        yield from self._paged(f"/crm/v3/objects/{object_type}", params)

    def batch_read_history(
        self, object_type: str, ids: list[int], properties: list[str], history: Sequence[str]
    ) -> list[dict[str, Any]]:
        """≤50 objects by id with `properties` and those of `history` with their past values
        (propertiesWithHistory)."""
        return self._batch_read(object_type, ids, properties, history)

    def owners(self, archived: bool = False) -> Iterator[dict[str, Any]]:
        yield from self._paged("/crm/v3/owners", {"limit": 100, "archived": str(archived).lower()})

    def refusal(self, stream: str) -> str | None:
        """Why the portal refuses an optional stream's API (OPTIONAL_APIS), or None when it
        answers: a 403 is a tier or a scope it lacks (events v3 below Enterprise, most
        portals), which retrying cannot change."""
        _, path, params, _ = OPTIONAL_APIS[stream]
        try:
            self._json("GET", path, params=params)
        except HubSpotAuthError as exc:
            if exc.status != 403:
                raise
            return f"HTTP 403 {exc.category}"
        return None

    def events(
        self, start: datetime | None, end: datetime | None, object_type: str = "contact"
    ) -> Iterator[dict[str, Any]]:
        """Events with start <= occurredAt < end; a bound that is None is left open."""
        params: dict[str, Any] = {"objectType": object_type, "limit": 1000}
        if start is not None:
            params["occurredAfter"] = start.isoformat()
        if end is not None:
            params["occurredBefore"] = end.isoformat()
        yield from self._paged(EVENTS, params)

    def forms(self) -> Iterator[dict[str, Any]]:
        """Every form (HubSpot's own forms; archived ones keep their submissions)."""
        for archived in ("false", "true"):
            yield from self._paged(FORMS, {"limit": 100, "archived": archived})

    def form_submissions(self, form_id: str, since: datetime) -> Iterator[dict[str, Any]]:
        """A form's submissions, newest first, until one submitted before `since`.

        The API has no date filter and lists newest first, so a watermark read stops at the
        first older page instead of reading the form's whole past."""
        params: dict[str, Any] = {"limit": SUBMISSIONS_PAGE}
        path = FORM_SUBMISSIONS.format(form_id=form_id)
        cutoff = to_millis(since)
        for submission in self._paged(path, params):
            submitted = submission.get("submittedAt") if isinstance(submission, dict) else None
            if isinstance(submitted, int) and submitted < cutoff:
                return
            yield submission

    def email_events(self, start: datetime, end: datetime) -> Iterator[dict[str, Any]]:
        """Marketing email events (sent, delivered, open, click, bounce, status change) created
        in [start, end)."""
        yield from self._offset_paged(EMAIL_EVENTS, "events", start, end)

    def subscription_changes(self, start: datetime, end: datetime) -> Iterator[dict[str, Any]]:
        """Subscription timeline entries (a recipient's changes at one time) in [start, end)."""
        yield from self._offset_paged(SUBSCRIPTION_TIMELINE, "timeline", start, end)

    def _offset_paged(
        self, path: str, key: str, start: datetime, end: datetime
    ) -> Iterator[dict[str, Any]]:
        """The legacy email APIs page by sending back `offset` while `hasMore`."""
        params: dict[str, Any] = {
            "startTimestamp": to_millis(start),
            "endTimestamp": to_millis(end) - 1,  # inclusive: the window stays half-open
            "limit": EMAIL_PAGE,
        }
        while True:
            page = self._json("GET", path, params=params)
            yield from page.get(key) or []
            if not page.get("hasMore") or not page.get("offset"):
                return
            params["offset"] = page["offset"]

    def _paged(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        params = dict(params)
        while True:
            page = self._json("GET", path, params=params)
            yield from page.get("results", [])
            after = page.get("paging", {}).get("next", {}).get("after")
            if not after:
                return
            params["after"] = after

    def search_modified(
        self, object_type: str, properties: list[str], start: datetime, end: datetime
    ) -> Iterator[dict[str, Any]]:
        """Every object with start <= hs_lastmodifieddate < end, exactly once or more.

        Keyset paging on (hs_lastmodifieddate, hs_object_id) instead of offsets: each query
        starts afresh, so the 10,000-result cap is never reached, records edited mid-extract
        cannot shift pages, and thousands of records sharing one timestamp are drained by id.
        A record can be yielded twice at a page boundary; loaders upsert by id.
        """
        props = sorted({*properties, "hs_lastmodifieddate", "hs_object_id"})
        end_ms = to_millis(end)
        low, low_op = to_millis(start), "GTE"
        while True:
            page = self._search(
                object_type,
                props,
                [_f("hs_lastmodifieddate", low_op, low), _f("hs_lastmodifieddate", "LT", end_ms)],
                "hs_lastmodifieddate",
            )
            if len(page) < SEARCH_PAGE:
                yield from page
                return
            top = _modified_ms(page[-1])
            if _modified_ms(page[0]) == top:
                yield from self._drain_timestamp(object_type, props, top)
                low, low_op = top, "GT"
                continue
            yield from (r for r in page if _modified_ms(r) < top)
            low, low_op = top, "GTE"

    def _drain_timestamp(
        self, object_type: str, props: list[str], ts_ms: int
    ) -> Iterator[dict[str, Any]]:
        last_id = 0
        while True:
            page = self._search(
                object_type,
                props,
                [_f("hs_lastmodifieddate", "EQ", ts_ms), _f("hs_object_id", "GT", last_id)],
                "hs_object_id",
            )
            yield from page
            if len(page) < SEARCH_PAGE:
                return
            last_id = int(page[-1]["id"])

    def _search(
        self, object_type: str, props: list[str], filters: list[dict[str, str]], sort: str
    ) -> list[dict[str, Any]]:
        body = {
            "filterGroups": [{"filters": filters}],
            "sorts": [{"propertyName": sort, "direction": "ASCENDING"}],
            "properties": props,
            "limit": SEARCH_PAGE,
        }
        return self._json("POST", f"/crm/v3/objects/{object_type}/search", json=body)["results"]

    def associations(
        self, from_type: str, to_type: str, ids: list[int]
    ) -> Iterator[tuple[int, int, int]]:
        """(from_id, to_id, type_id) for the given objects, in v4 batch reads."""
        for chunk in chunks(ids, ASSOCIATION_BATCH):
            body = {"inputs": [{"id": str(i)} for i in chunk]}
            data = self._json(
                "POST", f"/crm/v4/associations/{from_type}/{to_type}/batch/read", json=body
            )
            for result in data.get("results", []):
                from_id = int(result["from"]["id"])
                for target in result.get("to", []):
                    for kind in target.get("associationTypes", []):
                        yield from_id, int(target["toObjectId"]), int(kind["typeId"])

    def properties(self, object_type: str) -> list[dict[str, Any]]:
        return self._json("GET", f"/crm/v3/properties/{object_type}")["results"]

    # -- writes ----------------------------------------------------------------------------

    def create_property(self, object_type: str, definition: dict[str, Any]) -> None:
        self._json("POST", f"/crm/v3/properties/{object_type}", json=definition)

    def merge(self, object_type: str, primary_id: int, other_id: int) -> dict[str, Any]:
        """Fold `other_id` into `primary_id` (HubSpot's merge); returns the surviving object."""
        body = {"primaryObjectId": str(primary_id), "objectIdToMerge": str(other_id)}
        return self._json("POST", f"/crm/v3/objects/{object_type}/merge", json=body)

    def batch_read(
        self, object_type: str, ids: list[int], properties: list[str]
    ) -> dict[int, dict[str, Any]]:
        """The named properties of ≤100 objects by id; ids HubSpot does not have are absent."""
        results = self._batch_read(object_type, ids, properties)
        return {int(r["id"]): r.get("properties") or {} for r in results}

    def _batch_read(
        self, object_type: str, ids: list[int], properties: list[str], history: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"inputs": [{"id": str(i)} for i in ids], "properties": properties}
        if history:
            body["propertiesWithHistory"] = list(history)
        return self._json("POST", f"/crm/v3/objects/{object_type}/batch/read", json=body).get(
            "results", []
        )

    def batch_upsert(
        self, object_type: str, inputs: list[dict[str, Any]], id_property: str
    ) -> dict[str, Any]:
        """Create or update ≤100 objects keyed by `id_property`; the raw 200/207 answer."""
        body = {"inputs": [{**i, "idProperty": id_property} for i in inputs]}
        response = self.request("POST", f"/crm/v3/objects/{object_type}/batch/upsert", json=body)
        return response.json() if response.content else {}

    def batch_create(self, object_type: str, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        """Create ≤100 objects (with their associations); the raw 201/207 answer."""
        response = self.request(
            "POST",
            f"/crm/v3/objects/{object_type}/batch/create",
            json={"inputs": inputs},
            once=True,
        )
        return response.json() if response.content else {}

    def get_list(self, list_id: str) -> dict[str, Any]:
        """A list's definition (name, processingType, objectTypeId)."""
        return self._json("GET", LISTS.format(list_id=list_id))["list"]

    def change_list(self, list_id: str, add: list[str], remove: list[str]) -> dict[str, Any]:
        """Add and remove records of a MANUAL or SNAPSHOT list in one request. HubSpot ignores
        ids it does not have (recordIdsMissing) and ids already in or out of the list."""
        body = {"recordIdsToAdd": add, "recordIdsToRemove": remove}
        path = LISTS.format(list_id=list_id) + "/memberships/add-and-remove"
        return self._json("PUT", path, json=body)

    def batch_update(self, object_type: str, inputs: list[dict[str, Any]]) -> BatchResult:
        """Update ≤100 objects by id; a 207 splits into per-id successes and errors."""
        if len(inputs) > BATCH_SIZE:
            raise ValueError(f"HubSpot batch writes take at most {BATCH_SIZE} inputs")
        response = self.request(
            "POST", f"/crm/v3/objects/{object_type}/batch/update", json={"inputs": inputs}
        )
        data = response.json() if response.content else {}
        result = BatchResult(ok=list(data.get("results", [])))
        ok_ids = {str(r.get("id")) for r in result.ok}
        unexplained = [str(i["id"]) for i in inputs if str(i["id"]) not in ok_ids]
        for error in data.get("errors", []):
            message = f"{error.get('category', 'ERROR')}: {error.get('message', '')}"
            ids = error.get("context", {}).get("ids") or []
            for failed_id in ids or unexplained:
                result.errors[str(failed_id)] = message
        for missing in unexplained:
            result.errors.setdefault(missing, "not in HubSpot's batch response")
        return result


def _f(prop: str, op: str, value: int) -> dict[str, str]:
    return {"propertyName": prop, "operator": op, "value": str(value)}


def _modified_ms(record: dict[str, Any]) -> int:
    props = record.get("properties") or {}
    return to_millis(parse_ts(props.get("hs_lastmodifieddate") or record["updatedAt"]))


def _retry_after(response: httpx.Response) -> float:
    """Retry-After (seconds) plus up to 10% jitter, so paused clients do not return in lockstep."""
    header = response.headers.get("Retry-After")
    try:
        base = max(0.1, float(header)) if header else 1.0
    except ValueError:
        base = 1.0
    return base * random.uniform(1.0, 1.1)


def _policy(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("policyName", "")) if isinstance(body, dict) else ""


def _body_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return f"{body.get('category', '')} {body.get('message', '')}".strip()


def _error_from(response: httpx.Response, prefix: str) -> HubSpotError:
    try:
        body = response.json()
    except ValueError:
        body = {"message": response.text[:200]}
    return HubSpotError(
        f"{prefix}: HTTP {response.status_code} {body.get('category', '')} "
        f"{body.get('message', '')} (correlationId {body.get('correlationId', '-')})",
        response.status_code,
        body.get("category"),
    )
