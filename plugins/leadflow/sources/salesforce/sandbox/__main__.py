"""`python -m leadflow.sources.salesforce.sandbox`: serve a generated org until Ctrl-C (the
same as `leadflow sandbox salesforce`)."""

from __future__ import annotations

import argparse

from leadflow.sources.salesforce.sandbox.embedded import SalesforceSandbox


def main(argv: list[str] | None = None) -> None:
    sandbox = SalesforceSandbox()
    parser = argparse.ArgumentParser(
        prog="python -m leadflow.sources.salesforce.sandbox",
        description="Salesforce-compatible sandbox API server (HTTPS).",
    )
    sandbox.add_arguments(parser)
    sandbox.serve(parser.parse_args(argv))


if __name__ == "__main__":
    main()
