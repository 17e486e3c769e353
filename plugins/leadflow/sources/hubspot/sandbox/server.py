"""HTTP front of the sandbox: HubSpot's routes, auth, rate limits and faults over a Portal.

Standard library only (``http.server``), so the demo and CI need nothing beyond Python. Each
request goes: auth -> latency -> 429 storm -> rate limits -> 5xx fault -> route -> portal. The
portal serialises state changes behind its own lock; ``SandboxServer.config`` can be changed
between requests to switch faults on and off.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from leadflow.sources.hubspot.sandbox.faults import FaultInjector, RateLimiter, Verdict
from leadflow.sources.hubspot.sandbox.portal import Portal
from leadflow.sources.hubspot.sandbox.values import ApiError, Reply, parse_ms

_SEGMENT = "[^/]+"
log = logging.getLogger(__name__)

_AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
_LIMIT_MESSAGES = {
    "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
    "SECONDLY": "You have reached your secondly limit.",
}
# The subscription tiers a portal can have, and the API paths only an Enterprise hub may call
# (HubSpot's spec marks events v3 and custom events Enterprise-only on every hub). Forms,
# submissions and the email analytics API answer on every tier.
TIERS = ("starter", "professional", "enterprise")
ENTERPRISE_ONLY = ("/events/v3/",)
# HubSpot documents the tier requirement but not the body of its refusal; the sandbox answers
# with the envelope of a token missing the feature's scope, the 403 clients handle.
_TIER_MESSAGE = (
    "This app hasn't been granted all required scopes to make this call. This API needs an "
    "Enterprise subscription (Marketing, Sales, Service, Content or Data Hub Enterprise)."
)
# HubSpot serves form submissions on api.hsforms.com without a token (pages post to it from
# the browser); the sandbox serves them on its one host and lets them through unauthenticated.
_PUBLIC = re.compile(f"/submissions/v3/integration/submit/{_SEGMENT}/{_SEGMENT}")
_FAULTS = {
    502: ("BAD_GATEWAY", "Bad Gateway (injected fault)"),
    503: ("SERVICE_UNAVAILABLE", "Service Unavailable (injected fault)"),
}


@dataclass
class SandboxConfig:
    """Server behaviour; every field may be changed while the server runs."""

    token: str = "sandbox-token"
    tier: str = "enterprise"  # one of TIERS: below Enterprise, events v3 answers 403
    rate_limit_per_10s: int | None = None
    search_rate_per_s: int | None = None
    error_rate_5xx: float = 0.0
    storm_429_every: int | None = None
    latency_ms: int = 0
    batch_failure_rate: float = 0.0
    fault_seed: int = 0


@dataclass
class Request:
    """What a route handler needs: path parameters, query string and JSON body."""

    params: dict[str, str]
    query: Query
    body: Any


@dataclass
class Response:
    """A JSON reply (no body for 204) plus extra headers."""

    status: int
    body: Any = None
    headers: dict[str, str] | None = None

    def payload(self) -> bytes:
        return b"" if self.body is None else json.dumps(self.body).encode()


def _error(status: int, category: str, message: str, **extra: Any) -> Response:
    body = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
        **extra,
    }
    return Response(status, body)


class Query:
    """Typed access to query-string parameters; bad values become HubSpot 400s."""

    def __init__(self, raw: str) -> None:
        self.values = parse_qs(raw, keep_blank_values=True)

    def text(self, name: str) -> str | None:
        found = self.values.get(name)
        return found[-1] if found else None

    def integer(self, name: str, default: int | None) -> int | None:
        text = self.text(name)
        if text in (None, ""):
            return default
        try:
            return int(text)
        except ValueError:
            raise ApiError(400, "VALIDATION_ERROR", f"{name} must be an integer") from None

    def flag(self, name: str) -> bool:
        return (self.text(name) or "").lower() == "true"

    def names(self, name: str) -> list[str] | None:
        """A list parameter sent as `a,b` or repeated (`?p=a&p=b`, the SDK's style)."""
        found = self.values.get(name)
        return None if found is None else [n for v in found for n in v.split(",") if n]

    def moment(self, name: str) -> int | None:
        text = self.text(name)
        if not text:
            return None
        try:
            return parse_ms(text)
        except ValueError:
            raise ApiError(
                400, "VALIDATION_ERROR", f"{name} must be an ISO-8601 timestamp or epoch millis"
            ) from None

    def prefixed(self, prefix: str) -> tuple[str, str] | None:
        """The first `prefix<name>=value` pair, e.g. objectProperty.email=a@b.com."""
        for key, found in self.values.items():
            if key.startswith(prefix) and found:
                return key[len(prefix) :], found[-1]
        return None

    def without(self, name: str) -> dict[str, list[str]]:
        return {k: v for k, v in self.values.items() if k != name}


Handler = Callable[[Request], Reply]


class SandboxApp:
    """Everything between a parsed HTTP request and the portal, independent of sockets."""

    def __init__(self, portal: Portal, config: SandboxConfig) -> None:
        self.portal = portal
        self.config = config
        self.rate_limiter = RateLimiter()
        self.faults = FaultInjector(config.fault_seed)
        self.routes = self._routes()

    def _routes(self) -> list[tuple[str, re.Pattern[str], Handler]]:
        obj = f"/crm/v3/objects/(?P<type>{_SEGMENT})"
        prop = f"/crm/v3/properties/(?P<type>{_SEGMENT})"
        v4 = f"/crm/v4/objects/(?P<type>{_SEGMENT})/(?P<id>{_SEGMENT})/associations"
        submit = "/submissions/v3/integration/submit"
        lists = f"/crm/v3/lists/(?P<id>{_SEGMENT})"
        table: list[tuple[str, str, Handler]] = [
            ("GET", obj, self._list_objects),
            ("POST", obj, lambda r: self.portal.create_object(r.params["type"], r.body)),
            ("POST", f"{obj}/search", lambda r: self.portal.search(r.params["type"], r.body)),
            ("POST", f"{obj}/merge", lambda r: self.portal.merge(r.params["type"], r.body)),
            ("POST", f"{obj}/batch/(?P<op>read|create|update|upsert|archive)", self._batch),
            ("GET", f"{obj}/(?P<id>{_SEGMENT})", self._read_object),
            ("PATCH", f"{obj}/(?P<id>{_SEGMENT})", self._patch_object),
            (
                "DELETE",
                f"{obj}/(?P<id>{_SEGMENT})",
                lambda r: self.portal.delete_object(r.params["type"], r.params["id"]),
            ),
            ("GET", prop, lambda r: self.portal.list_properties(r.params["type"])),
            ("POST", prop, lambda r: self.portal.create_property(r.params["type"], r.body)),
            (
                "GET",
                f"{prop}/(?P<name>{_SEGMENT})",
                lambda r: self.portal.get_property(r.params["type"], r.params["name"]),
            ),
            (
                "DELETE",
                f"{prop}/(?P<name>{_SEGMENT})",
                lambda r: self.portal.archive_property(r.params["type"], r.params["name"]),
            ),
            # Both paths are HubSpot's: the docs give /crm/v3, the SDK calls the other.
            ("GET", "/crm/v3/schemas", lambda r: self.portal.list_schemas()),
            ("GET", "/crm-object-schemas/v3/schemas", lambda r: self.portal.list_schemas()),
            (
                "GET",
                f"/crm/v3/pipelines/(?P<type>{_SEGMENT})",
                lambda r: self.portal.list_pipelines(r.params["type"]),
            ),
            ("GET", "/crm/v3/owners", self._list_owners),
            (
                "GET",
                f"/crm/v3/owners/(?P<id>{_SEGMENT})",
                lambda r: self.portal.get_owner(r.params["id"]),
            ),
            ("GET", f"{v4}/(?P<to>{_SEGMENT})", self._list_associations),
            (
                "PUT",
                f"{v4}/default/(?P<to>{_SEGMENT})/(?P<to_id>{_SEGMENT})",
                lambda r: self.portal.create_default_association(
                    r.params["type"], r.params["id"], r.params["to"], r.params["to_id"]
                ),
            ),
            (
                "POST",
                f"/crm/v4/associations/(?P<type>{_SEGMENT})/(?P<to>{_SEGMENT})/batch/read",
                lambda r: self.portal.batch_read_associations(
                    r.params["type"], r.params["to"], r.body
                ),
            ),
            ("POST", "/crm/v3/lists", lambda r: self.portal.create_list(r.body)),
            ("GET", f"{lists}", lambda r: self.portal.get_list(r.params["id"])),
            (
                "GET",
                f"/crm/v3/lists/object-type-id/(?P<otid>{_SEGMENT})/name/(?P<name>{_SEGMENT})",
                lambda r: self.portal.get_list_by_name(r.params["otid"], unquote(r.params["name"])),
            ),
            (
                "PUT",
                f"{lists}/memberships/add",
                lambda r: self.portal.change_memberships(r.params["id"], r.body, None),
            ),
            (
                "PUT",
                f"{lists}/memberships/remove",
                lambda r: self.portal.change_memberships(r.params["id"], None, r.body),
            ),
            ("PUT", f"{lists}/memberships/add-and-remove", self._change_memberships),
            ("GET", f"{lists}/memberships", self._list_memberships),
            ("GET", "/marketing/v3/forms", self._list_forms),
            (
                "GET",
                f"/form-integrations/v1/submissions/forms/(?P<form>{_SEGMENT})",
                self._list_submissions,
            ),
            (
                "POST",
                f"{submit}/(?P<portal>{_SEGMENT})/(?P<form>{_SEGMENT})",
                lambda r: self.portal.submit_form(r.params["portal"], r.params["form"], r.body),
            ),
            ("GET", "/email/public/v1/events", self._list_email_events),
            ("GET", "/email/public/v1/subscriptions/timeline", self._subscription_timeline),
            # Sandbox-only writers, outside HubSpot's paths (token required like the rest).
            ("POST", "/_sandbox/email-events", lambda r: self.portal.record_email_event(r.body)),
            ("POST", "/_sandbox/page-views", lambda r: self.portal.record_page_view(r.body)),
            ("GET", "/events/v3/events", self._list_events),
            ("GET", "/events/v3/events/event-types", lambda r: self.portal.event_types()),
            ("POST", "/events/v3/send", lambda r: self.portal.send_event(r.body)),
            (
                "POST",
                "/events/v3/event-definitions",
                lambda r: self.portal.create_event_definition(r.body),
            ),
            (
                "GET",
                "/events/v3/event-definitions",
                lambda r: self.portal.list_event_definitions(),
            ),
        ]
        return [(method, re.compile(pattern), handler) for method, pattern, handler in table]

    # -- request pipeline ----------------------------------------------------------------------

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], raw_body: bytes
    ) -> Response:
        """Answer one request and log it; never raises."""
        split = urlsplit(target)
        path = split.path.rstrip("/") or "/"
        try:
            response = self._answer(method, path, Query(split.query), headers, raw_body)
        except ApiError as err:
            response = _error(
                err.status,
                err.category,
                err.message,
                **({"errors": err.errors} if err.errors else {}),
            )
        except Exception:
            log.exception("sandbox failed on %s %s", method, target)
            response = _error(500, "INTERNAL_ERROR", "The sandbox hit an internal error.")
        self.portal.log_request(method, path, response.status)
        return response

    def _answer(
        self, method: str, path: str, query: Query, headers: Mapping[str, str], raw_body: bytes
    ) -> Response:
        config = self.config
        public = method == "POST" and _PUBLIC.fullmatch(path) is not None
        if not public and headers.get("Authorization") != f"Bearer {config.token}":
            return _error(401, "INVALID_AUTHENTICATION", _AUTH_MESSAGE)
        if config.latency_ms:
            time.sleep(config.latency_ms / 1000)
        self.faults.reseed(config.fault_seed)
        if self.faults.storm(config.storm_429_every):
            return _too_many(Verdict(policy="TEN_SECONDLY_ROLLING", retry_after=1))
        verdict = self.rate_limiter.check(
            config.token,
            config.rate_limit_per_10s,
            config.search_rate_per_s,
            path.endswith("/search"),
        )
        if verdict.policy:
            return _too_many(verdict)
        response = self._fault_or_route(method, path, query, headers, raw_body)
        response.headers = {**verdict.headers, **(response.headers or {})}
        return response

    def _fault_or_route(
        self, method: str, path: str, query: Query, headers: Mapping[str, str], raw_body: bytes
    ) -> Response:
        code = self.faults.server_error(self.config.error_rate_5xx)
        if code is not None:
            return _error(code, *_FAULTS[code])
        if self.config.tier != "enterprise" and path.startswith(ENTERPRISE_ONLY):
            return _error(403, "MISSING_SCOPES", _TIER_MESSAGE)
        for route_method, pattern, handler in self.routes:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                params = {k: unquote(v) for k, v in match.groupdict().items()}
                status, body = handler(Request(params, query, _json(raw_body)))
                if method == "GET":
                    _add_paging_link(body, f"http://{headers.get('Host', '')}{path}", query)
                return Response(status, body)
        return _error(404, "OBJECT_NOT_FOUND", f"Unknown route: {method} {path}")

    # -- handlers that need query parsing -----------------------------------------------------

    def _list_objects(self, r: Request) -> Reply:
        return self.portal.list_objects(
            r.params["type"],
            limit=r.query.integer("limit", 10),
            after=r.query.text("after"),
            properties=r.query.names("properties"),
            archived=r.query.flag("archived"),
            history=r.query.names("propertiesWithHistory"),
            associations=r.query.names("associations"),
        )

    def _read_object(self, r: Request) -> Reply:
        return self.portal.read_object(
            r.params["type"],
            r.params["id"],
            properties=r.query.names("properties"),
            archived=r.query.flag("archived"),
            id_property=r.query.text("idProperty"),
            history=r.query.names("propertiesWithHistory"),
            associations=r.query.names("associations"),
        )

    def _patch_object(self, r: Request) -> Reply:
        return self.portal.patch_object(
            r.params["type"], r.params["id"], r.body, id_property=r.query.text("idProperty")
        )

    def _batch(self, r: Request) -> Reply:
        t, op = r.params["type"], r.params["op"]
        if op in ("update", "upsert"):
            rate = self.config.batch_failure_rate
            inject = (lambda: self.faults.batch_failure(rate)) if rate > 0 else None
            write = self.portal.batch_update if op == "update" else self.portal.batch_upsert
            return write(t, r.body, inject_failure=inject)
        reads = {
            "read": self.portal.batch_read,
            "create": self.portal.batch_create,
            "archive": self.portal.batch_archive,
        }
        return reads[op](t, r.body)

    def _change_memberships(self, r: Request) -> Reply:
        body = r.body if isinstance(r.body, dict) else {}
        return self.portal.change_memberships(
            r.params["id"], body.get("recordIdsToAdd"), body.get("recordIdsToRemove")
        )

    def _list_memberships(self, r: Request) -> Reply:
        return self.portal.list_memberships(
            r.params["id"], limit=r.query.integer("limit", 100), after=r.query.text("after")
        )

    def _list_owners(self, r: Request) -> Reply:
        return self.portal.list_owners(
            limit=r.query.integer("limit", 100),
            after=r.query.text("after"),
            archived=r.query.flag("archived"),
            email=r.query.text("email"),
        )

    def _list_associations(self, r: Request) -> Reply:
        return self.portal.list_associations(
            r.params["type"],
            r.params["id"],
            r.params["to"],
            limit=r.query.integer("limit", 500),
            after=r.query.text("after"),
        )

    def _list_forms(self, r: Request) -> Reply:
        return self.portal.list_forms(
            limit=r.query.integer("limit", 20),
            after=r.query.text("after"),
            archived=r.query.flag("archived"),
        )

    def _list_submissions(self, r: Request) -> Reply:
        return self.portal.list_submissions(
            r.params["form"], limit=r.query.integer("limit", 20), after=r.query.text("after")
        )

    def _list_email_events(self, r: Request) -> Reply:
        return self.portal.list_email_events(
            start=r.query.integer("startTimestamp", None),
            end=r.query.integer("endTimestamp", None),
            offset=r.query.text("offset") or None,
            limit=r.query.integer("limit", 10),
            event_type=r.query.text("eventType") or None,
            recipient=r.query.text("recipient") or None,
            campaign_id=r.query.integer("campaignId", None),
        )

    def _subscription_timeline(self, r: Request) -> Reply:
        return self.portal.subscription_timeline(
            start=r.query.integer("startTimestamp", None),
            end=r.query.integer("endTimestamp", None),
            offset=r.query.text("offset") or None,
            limit=r.query.integer("limit", 10),
        )

    def _list_events(self, r: Request) -> Reply:
        """`sort`: occurredAt/ASCENDING (default) or -occurredAt/DESCENDING."""
        sort = (r.query.text("sort") or "occurredAt").upper()
        if sort not in ("OCCURREDAT", "ASCENDING", "-OCCURREDAT", "DESCENDING"):
            raise ApiError(400, "VALIDATION_ERROR", f"Unsupported sort: {sort}")
        return self.portal.list_events(
            object_type=r.query.text("objectType"),
            object_id=r.query.integer("objectId", None),
            event_type=r.query.text("eventType") or None,
            occurred_after=r.query.moment("occurredAfter"),
            occurred_before=r.query.moment("occurredBefore"),
            after=r.query.text("after"),
            limit=r.query.integer("limit", 10),
            descending=sort in ("-OCCURREDAT", "DESCENDING"),
            object_property=r.query.prefixed("objectProperty."),
        )


def _json(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError(400, "VALIDATION_ERROR", "Invalid input JSON on request body") from None


def _too_many(verdict: Verdict) -> Response:
    policy = verdict.policy or "TEN_SECONDLY_ROLLING"
    response = _error(
        429, "RATE_LIMITS", _LIMIT_MESSAGES[policy], errorType="RATE_LIMIT", policyName=policy
    )
    response.headers = {**verdict.headers, "Retry-After": str(verdict.retry_after)}
    return response


def _add_paging_link(body: Any, base: str, query: Query) -> None:
    """HubSpot puts a ready-to-follow `link` next to each GET cursor."""
    after = body.get("paging", {}).get("next", {}).get("after") if isinstance(body, dict) else None
    if after is not None:
        params = {**query.without("after"), "after": [after]}
        body["paging"]["next"]["link"] = f"{base}?{urlencode(params, doseq=True)}"


# -- sockets -----------------------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    app: SandboxApp


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API (clients pool connections)
    # Headers and body go out in separate writes; with Nagle on, each keep-alive request
    # would stall ~40 ms on the client's delayed ACK.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        response = self.server.app.handle(self.command, self.path, self.headers, raw)
        payload = response.payload()
        self.send_response(response.status)
        for name, value in (response.headers or {}).items():
            self.send_header(name, value)
        if response.status != 204:
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the portal's request_log is the record; stderr noise hides test output."""


class SandboxServer:
    """A portal served over HTTP; binds at construction so `url` is known before `start()`."""

    def __init__(
        self,
        portal: Portal,
        config: SandboxConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.portal = portal
        self.app = SandboxApp(portal, config or SandboxConfig())
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.app = self.app
        self._thread: threading.Thread | None = None

    @property
    def config(self) -> SandboxConfig:
        return self.app.config

    @config.setter
    def config(self, value: SandboxConfig) -> None:
        self.app.config = value

    @property
    def rate_limiter(self) -> RateLimiter:
        return self.app.rate_limiter

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        return f"http://{shown}:{port}"

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name="hubspot-sandbox",
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted."""
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        finally:
            self._httpd.server_close()

    def stop(self) -> None:
        if self._thread is not None:  # shutdown() would wait forever on a loop never started
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
