"""`python -m leadflow.sources.hubspot.sandbox`: serve a generated HubSpot portal until Ctrl-C
(the same as `leadflow sandbox hubspot`)."""

from __future__ import annotations

import argparse

from leadflow.sources.hubspot.sandbox.embedded import HubSpotSandbox


def main(argv: list[str] | None = None) -> None:
    sandbox = HubSpotSandbox()
    parser = argparse.ArgumentParser(
        prog="python -m leadflow.sources.hubspot.sandbox",
        description="HubSpot-compatible sandbox API server.",
    )
    sandbox.add_arguments(parser)
    sandbox.serve(parser.parse_args(argv))


if __name__ == "__main__":
    main()
