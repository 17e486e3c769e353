"""HTTPS front of the Salesforce sandbox: the OAuth token endpoint, session checks, the daily
API allocation (Sforce-Limit-Info on every answer), injected latency, then the routes.

Standard library HTTP over the TLS context of `tls.Certificates`. `SandboxConfig` may change
while it serves (switch faults on and off); `expire_sessions()` revokes every token issued.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from leadflow.sources.salesforce.sandbox.bulk import Bulk
from leadflow.sources.salesforce.sandbox.errors import SalesforceError
from leadflow.sources.salesforce.sandbox.org import API_VERSIONS, Org
from leadflow.sources.salesforce.sandbox.routes import Reply, Request, Routes, parse_form
from leadflow.sources.salesforce.sandbox.tls import Certificates
from leadflow.sources.salesforce.settings import SalesforceSettings

log = logging.getLogger(__name__)
_DATA = re.compile(r"/services/data/v(\d+\.\d)(?:/(.*?))?/?")
_SESSION_EXPIRED = SalesforceError(401, "INVALID_SESSION_ID", "Session expired or invalid")


@dataclass
class SandboxConfig:
    client_id: str = "sandbox-client"
    client_secret: str = "sandbox-secret"
    session_token: str | None = None  # a fixed session id it also accepts (tests, the stack)
    latency_ms: int = 0
    tokens: set[str] = field(default_factory=set)  # issued by the token endpoint


class SandboxServer:
    """Serves `org` over HTTPS on host:port (0 picks a free port) in a background thread."""

    def __init__(
        self,
        org: Org,
        config: SandboxConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        ca_file: Path | None = None,
    ) -> None:
        self.org = org
        self.config = config or SandboxConfig()
        self.bulk = Bulk(org)
        self.routes = Routes(org, self.bulk)
        self.request_log: list[tuple[str, str, int]] = []
        self.certificates = Certificates()
        self.ca_file = self.certificates.write_ca(ca_file)
        self._httpd = ThreadingHTTPServer((host, port), _handler(self))
        self._httpd.daemon_threads = True
        context = self.certificates.server_context()
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self._thread: threading.Thread | None = None
        self.host = host
        self.port = self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def client_settings(self, **changes: Any) -> SalesforceSettings:
        """A leadflow client's settings pointed at this server (tests, benchmarks)."""
        settings = SalesforceSettings(
            base_url=self.url,
            client_id=self.config.client_id,
            client_secret=self.config.client_secret,
            ca_file=str(self.ca_file),
        )
        return dataclasses.replace(settings, **changes)

    def expire_sessions(self) -> None:
        """Every session ends, as when an admin revokes them or they time out."""
        self.config.tokens.clear()
        self.config.session_token = None

    def issue_token(self) -> str:
        token = "00D" + secrets.token_urlsafe(24)
        self.config.tokens.add(token)
        return token

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- one request ---------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        parts = urlsplit(target)
        path = parts.path
        if self.config.latency_ms:
            time.sleep(self.config.latency_ms / 1000)
        if path.rstrip("/") == "/services/oauth2/token" and method == "POST":
            return self._token(headers, body)
        if path.rstrip("/") == "/services/data":
            return Routes.versions()
        match = _DATA.fullmatch(path)
        if match is None:
            return _error(
                SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
            )
        version, rest = match.group(1), match.group(2) or ""
        try:
            self._authorize(headers)
            if version not in API_VERSIONS:
                raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
            self.org.spend()
            found = self.routes.find(method, rest)
            if found is None:
                raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
            handler, params = found
            request = Request(method, version, params, parse_qs(parts.query), body, headers)
            reply = handler(request)
        except SalesforceError as error:
            reply = _error(error)
        if reply.status != 401:
            usage = f"api-usage={self.org.api_used}/{self.org.api_max}"
            reply.headers.setdefault("Sforce-Limit-Info", usage)
        return reply

    def _authorize(self, headers: dict[str, str]) -> None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        accepted = token in self.config.tokens or (
            self.config.session_token is not None and token == self.config.session_token
        )
        if scheme.lower() != "bearer" or not accepted:
            raise _SESSION_EXPIRED

    def _token(self, headers: dict[str, str], body: bytes) -> Reply:
        """OAuth 2.0 client credentials, the flow Salesforce tells integrations to use."""
        form = parse_form(body)
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        scheme, _, basic = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            client_id, _, client_secret = base64.b64decode(basic).decode().partition(":")
        if form.get("grant_type") != "client_credentials":
            return Reply(
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant type not supported",
                },
            )
        if (client_id, client_secret) != (self.config.client_id, self.config.client_secret):
            return Reply(
                400, {"error": "invalid_client", "error_description": "invalid client credentials"}
            )
        token = self.issue_token()
        issued = str(int(time.time() * 1000))
        return Reply(
            200,
            {
                "access_token": token,
                "signature": base64.b64encode(secrets.token_bytes(32)).decode(),
                "scope": "api",
                "instance_url": self.url,
                "id": f"{self.url}/id/00DRO0000000001AAA/{self.org.user_id}",
                "token_type": "Bearer",
                "issued_at": issued,
                "token_format": "opaque",
            },
        )


def _error(error: SalesforceError) -> Reply:
    return Reply(error.status, error.body())


def _handler(server: SandboxServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                reply = server.handle(self.command, self.path, headers, body)
            except Exception:  # a sandbox bug answers as Salesforce's own failures do
                log.exception("sandbox error on %s %s", self.command, self.path)
                reply = Reply(
                    500,
                    [
                        {
                            "errorCode": "UNKNOWN_EXCEPTION",
                            "message": "An unexpected error occurred.",
                        }
                    ],
                )
            server.request_log.append((self.command, urlsplit(self.path).path, reply.status))
            payload = reply.payload()
            self.send_response(reply.status)
            if reply.status != 204:
                self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("sandbox: " + format, *args)

    return Handler
