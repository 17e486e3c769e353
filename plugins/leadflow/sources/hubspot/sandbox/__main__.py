"""`python -m leadflow.sources.hubspot.sandbox`: serve a generated HubSpot portal until Ctrl-C."""

from __future__ import annotations

import argparse
import os

from leadflow.sources.hubspot.sandbox.server import serve_forever


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m leadflow.sources.hubspot.sandbox",
        description="HubSpot-compatible sandbox API server.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (0.0.0.0 in Docker)")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--contacts", type=int, default=5000)
    parser.add_argument(
        "--token",
        default=os.environ.get("HUBSPOT_SANDBOX_TOKEN", "sandbox-token"),
        help="accepted bearer token (env HUBSPOT_SANDBOX_TOKEN)",
    )
    parser.add_argument(
        "--rate-limit",
        type=int,
        dest="rate_limit_per_10s",
        help="requests per rolling 10 s per token",
    )
    parser.add_argument(
        "--search-rate",
        type=int,
        dest="search_rate_per_s",
        help="search requests per second per token",
    )
    parser.add_argument(
        "--error-rate",
        type=float,
        default=0.0,
        dest="error_rate_5xx",
        help="fraction of requests answered 502/503",
    )
    parser.add_argument(
        "--storm-429-every",
        type=int,
        dest="storm_429_every",
        help="answer every Nth request with 429",
    )
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument(
        "--batch-failure-rate",
        type=float,
        default=0.0,
        help="fraction of batch update/upsert inputs that fail",
    )
    parser.add_argument("--fault-seed", type=int, default=0)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = vars(_parser().parse_args(argv))
    serve_forever(
        args.pop("port"), args.pop("seed"), args.pop("contacts"), args.pop("token"), **args
    )


if __name__ == "__main__":
    main()
