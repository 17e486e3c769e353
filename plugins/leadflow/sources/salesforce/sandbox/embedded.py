"""The Salesforce sandbox as leadflow's commands use it: `leadflow sandbox salesforce` serves a
seeded org over HTTPS until interrupted. leadflow.sources.Sandbox."""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from leadflow.arguments import at_least, fraction, sandbox_arguments
from leadflow.settings import read
from leadflow.sources.salesforce.settings import API_VERSION, SandboxSettings, conn_id

if TYPE_CHECKING:
    # Imported where used: every `leadflow` command builds its parser from this module, and
    # the server's TLS (cryptography) and the generator would double its start-up.
    from leadflow.sources.salesforce.sandbox.org import Org
    from leadflow.sources.salesforce.sandbox.server import SandboxConfig

# Salesforce's editions differ in API allocations and features, not in the REST API leadflow
# speaks; the sandbox stands in for Enterprise Edition (100,000 requests a day plus 1,000 per
# licence in a real org).
EDITIONS = ("enterprise",)


def _config() -> SandboxConfig:
    from leadflow.sources.salesforce.sandbox.server import SandboxConfig

    app = read(SandboxSettings)
    return SandboxConfig(client_id=app.client_id, client_secret=app.client_secret)


def connection_env(url: str, ca_file: Path | str) -> dict[str, str]:
    """The AIRFLOW_CONN_* env var of a Salesforce connection pointed at a sandbox."""
    app = read(SandboxSettings)
    conn = {
        "conn_type": "http",
        "host": url,
        "login": app.client_id,
        "password": app.client_secret,
        "extra": {"ca_file": str(ca_file), "api_version": API_VERSION},
    }
    return {f"AIRFLOW_CONN_{conn_id().upper()}": json.dumps(conn)}


class SalesforceSandbox:
    """leadflow.sources.Sandbox for Salesforce."""

    tiers = EDITIONS
    default_tier = "enterprise"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        sandbox_arguments(parser, 8766, "people in the generated org (leads and contacts)")
        parser.add_argument(
            "--ca-file",
            type=Path,
            default=None,
            help="write the CA certificate clients must trust there (default: a temp file)",
        )
        parser.add_argument(
            "--daily-api-requests", type=at_least(1), default=100_000, help="the allocation"
        )
        parser.add_argument("--latency-ms", type=at_least(0), default=0)
        parser.add_argument(
            "--without-leadflow-fields",
            action="store_true",
            help="a fresh org: leadflow's custom fields not created yet (see `leadflow doctor`)",
        )
        parser.add_argument(
            "--lock-failure-rate",
            type=fraction,
            default=0.0,
            help="fraction of collection writes that fail with UNABLE_TO_LOCK_ROW",
        )

    def _org(self, seed: int, people: int, now: datetime | None, api_max: int) -> Org:
        from leadflow.sources.salesforce.sandbox.synthetic import generate

        org = generate(seed=seed, people=people, now=now)
        org.api_max = api_max
        return org

    def serve(self, args: argparse.Namespace) -> None:
        """Generate the org and serve it until Ctrl-C."""
        from leadflow.sources.salesforce.sandbox.server import SandboxServer

        org = self._org(args.seed, args.contacts, None, args.daily_api_requests)
        org.faults.lock_failure_rate = args.lock_failure_rate
        if args.without_leadflow_fields:
            org.without_leadflow_fields()
        config = _config()
        config.latency_ms = args.latency_ms
        server = SandboxServer(org, config, host=args.host, port=args.port, ca_file=args.ca_file)
        print(
            f"Salesforce sandbox serving {args.contacts} people at {server.url}"
            f" (CA certificate: {server.ca_file}; client id {config.client_id})",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()

    @contextlib.contextmanager
    def demo(
        self, seed: int, contacts: int, now: datetime, tier: str | None = None
    ) -> Iterator[dict[str, str]]:
        """A generated org as of `now`, served on a free port while the demo runs."""
        from leadflow.sources.salesforce.sandbox.server import SandboxServer

        org = self._org(seed, contacts, now, 100_000)
        with SandboxServer(org, _config()) as server:
            print(f"  salesforce sandbox at {server.url}")
            yield connection_env(server.url, server.ca_file)

    def stack_env(self) -> dict[str, str]:
        """The connection env of a sandbox the local stack started with --ca-file."""
        sandbox = read(SandboxSettings)
        return connection_env(sandbox.url, sandbox.ca_file)
