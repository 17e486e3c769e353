"""The sandbox as leadflow's embedded defaults use it: `leadflow sandbox` (serve it), the demo
(start one, point the HubSpot connection at it), the local stack (where to find it).
leadflow.sources.Sandbox."""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from leadflow.arguments import at_least, fraction, sandbox_arguments
from leadflow.settings import read
from leadflow.sources.hubspot.sandbox.portal import Portal
from leadflow.sources.hubspot.sandbox.server import TIERS, SandboxConfig, SandboxServer
from leadflow.sources.hubspot.settings import SandboxSettings, conn_id

# The demo's portal answers like a Professional portal's token: 190 requests per 10 s.
DEMO_RATE = {"rate_limit_per_10s": 190, "search_rate_per_s": 5}


def connection_env(url: str, token: str, extra: dict[str, Any] | None = None) -> dict[str, str]:
    """The AIRFLOW_CONN_* env var of the HubSpot connection, pointed at `url`."""
    hubspot = {"conn_type": "http", "host": url, "password": token, "extra": extra or {}}
    return {f"AIRFLOW_CONN_{conn_id().upper()}": json.dumps(hubspot)}


class HubSpotSandbox:
    """leadflow.sources.Sandbox for HubSpot."""

    tiers = TIERS
    default_tier = "professional"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        sandbox_arguments(parser, 8765, "contacts in the generated portal")
        parser.add_argument(
            "--tier",
            choices=TIERS,
            default=self.default_tier,
            help="the portal's subscription: below enterprise, events v3 answers 403",
        )
        parser.add_argument(
            "--token", default=None, help="the token it accepts (default: HUBSPOT_SANDBOX_TOKEN)"
        )
        parser.add_argument(
            "--rate-limit", type=at_least(1), default=None, help="requests per 10 s per token"
        )
        parser.add_argument(
            "--search-rate", type=at_least(1), default=None, help="searches per s per token"
        )
        parser.add_argument(
            "--error-rate", type=fraction, default=0.0, help="fraction of 502/503 answers"
        )
        parser.add_argument(
            "--storm-429-every", type=at_least(1), default=None, help="answer every Nth with 429"
        )
        parser.add_argument("--latency-ms", type=at_least(0), default=0)
        parser.add_argument(
            "--batch-failure-rate",
            type=fraction,
            default=0.0,
            help="fraction of batch update/upsert inputs that fail",
        )
        parser.add_argument("--fault-seed", type=int, default=0)

    def serve(self, args: argparse.Namespace) -> None:
        """Generate the portal and serve it until Ctrl-C."""
        portal = Portal.generate(seed=args.seed, contacts=args.contacts)
        config = SandboxConfig(
            token=args.token or read(SandboxSettings).token,
            tier=args.tier,
            rate_limit_per_10s=args.rate_limit,
            search_rate_per_s=args.search_rate,
            error_rate_5xx=args.error_rate,
            storm_429_every=args.storm_429_every,
            latency_ms=args.latency_ms,
            batch_failure_rate=args.batch_failure_rate,
            fault_seed=args.fault_seed,
        )
        server = SandboxServer(portal, config, host=args.host, port=args.port)
        print(
            f"HubSpot sandbox ({args.tier}) serving {args.contacts} contacts at {server.url}",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()

    @contextlib.contextmanager
    def demo(
        self, seed: int, contacts: int, now: datetime, tier: str | None = None
    ) -> Iterator[dict[str, str]]:
        """A generated portal as of `now`, served on a free port while the demo runs; yields
        the connection env pointing at it."""
        token = read(SandboxSettings).token
        portal = Portal.generate(seed=seed, contacts=contacts, now=now)
        tier = tier or self.default_tier
        config = SandboxConfig(token=token, tier=tier, **DEMO_RATE)
        # The re-engagement campaign's static list, as marketing would have made it.
        _, created = portal.create_list(
            {"name": "Re-engagement nurture", "objectTypeId": "0-1", "processingType": "MANUAL"}
        )
        extra = {**DEMO_RATE, "nurture_list_id": created["list"]["listId"]}
        with SandboxServer(portal, config, port=0) as server:
            print(f"  hubspot    {tier} sandbox at {server.url} (190 requests / 10 s)")
            yield connection_env(server.url, token, extra)

    def stack_env(self) -> dict[str, str]:
        """The connection env of the local stack's sandbox (`make sandbox`)."""
        sandbox = read(SandboxSettings)
        return connection_env(sandbox.url, sandbox.token, {"rate_limit_per_10s": 190})
