"""Salesforce, the CRM of most B2B sales teams.

client.py speaks HTTP (OAuth, keyset reads, Bulk API 2.0, collections, the API reserve),
objects.py declares what is read, streams.py loads it into raw, fields.py declares the custom
fields leadflow writes, writeback.py is the CRM side of the push, doctor.py checks an org,
settings.py its connection, sandbox/ a Salesforce-compatible HTTPS server.
"""

from __future__ import annotations

from datetime import datetime
from importlib import resources
from typing import TYPE_CHECKING

from leadflow.sources.salesforce import settings as salesforce
from leadflow.sources.salesforce.objects import STREAMS

if TYPE_CHECKING:
    from leadflow.doctor import Check
    from leadflow.settings import PostgresSettings
    from leadflow.sources.salesforce.sandbox.embedded import SalesforceSandbox
    from leadflow.sources.salesforce.writeback import SalesforceCrm
    from leadflow.stats import ExtractStats


class Salesforce:
    """Salesforce as a leadflow source (leadflow.sources.Source) and CRM."""

    name = "salesforce"
    streams = tuple(STREAMS)
    raw_suites: tuple[str, ...] = ()
    settings = salesforce.SETTINGS

    def schema_sql(self) -> str:
        return resources.files(__name__).joinpath("schema.sql").read_text()

    def extract(
        self, stream: str, pg: PostgresSettings, start: datetime, end: datetime, load_id: str
    ) -> ExtractStats:
        from leadflow.sources.salesforce.streams import extract_stream

        return extract_stream(stream, pg, salesforce.salesforce_settings(), start, end, load_id)

    def ping(self) -> None:
        """Log in and read the limits with short timeouts: a wrong secret fails in seconds."""
        import dataclasses

        from leadflow.sources.salesforce.client import SalesforceClient

        settings = salesforce.salesforce_settings()
        quick = dataclasses.replace(settings, max_attempts=2, timeout_s=10.0)
        with SalesforceClient(quick) as client:
            client.limits()

    def checks(self) -> list[Check]:
        from leadflow.sources.salesforce.doctor import checks

        return checks()

    def crm(self) -> SalesforceCrm:
        from leadflow.sources.salesforce.writeback import SalesforceCrm

        return SalesforceCrm()

    def sandbox(self) -> SalesforceSandbox:
        from leadflow.sources.salesforce.sandbox.embedded import SalesforceSandbox

        return SalesforceSandbox()
