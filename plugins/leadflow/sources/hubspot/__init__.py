"""HubSpot: the CRM and marketing source, and the CRM leadflow writes back to.

client.py speaks HTTP (rate budget, retries, every endpoint), streams.py extracts, raw.py maps
records to raw tables, writeback.py is the CRM side of the push, doctor.py its checks,
settings.py its connection, sandbox/ a HubSpot-compatible server for the demo and the tests.
"""

from __future__ import annotations

from datetime import datetime
from importlib import resources
from typing import TYPE_CHECKING

from leadflow.sources.hubspot import settings as hubspot

# What the extract reads: the CRM objects, then owners, the sales activity (the engagement
# objects, one stream), the contacts' lifecycle and lead-status history, the marketing activity
# every tier has (form submissions, email events, subscription changes) and events. Declared
# here, not in streams.py, so the DAG file can list them without importing the HTTP and
# database clients.
CRM_STREAMS = ("contacts", "companies", "deals")
ENGAGEMENT_TYPES = ("calls", "meetings", "emails", "notes", "tasks")
MARKETING_STREAMS = ("form_submissions", "email_events", "subscription_changes")
STREAMS = (*CRM_STREAMS, "owners", "engagements", "lifecycle_history", *MARKETING_STREAMS, "events")

if TYPE_CHECKING:
    from leadflow.doctor import Check
    from leadflow.settings import PostgresSettings
    from leadflow.sources.hubspot.sandbox.embedded import HubSpotSandbox
    from leadflow.sources.hubspot.writeback import HubSpotCrm
    from leadflow.stats import ExtractStats


class HubSpot:
    """HubSpot as a leadflow source (leadflow.sources.Source)."""

    name = "hubspot"
    streams = STREAMS
    raw_suites = ("raw_hubspot_contacts", "raw_hubspot_events")
    settings = hubspot.SETTINGS

    def schema_sql(self) -> str:
        return resources.files(__name__).joinpath("schema.sql").read_text()

    def extract(
        self, stream: str, pg: PostgresSettings, start: datetime, end: datetime, load_id: str
    ) -> ExtractStats:
        from leadflow.sources.hubspot.streams import extract_stream

        return extract_stream(stream, pg, hubspot.hubspot_settings(), start, end, load_id)

    def ping(self) -> None:
        """GET the contact properties with short timeouts: a typo fails in seconds."""
        import dataclasses

        from leadflow.sources.hubspot.client import HubSpotClient

        settings = hubspot.hubspot_settings()
        quick = dataclasses.replace(
            settings, max_attempts=2, timeout_s=min(settings.timeout_s, 10.0)
        )
        with HubSpotClient(quick) as client:
            client.properties("contacts")

    def checks(self) -> list[Check]:
        from leadflow.sources.hubspot.doctor import checks

        return checks()

    def crm(self) -> HubSpotCrm:
        from leadflow.sources.hubspot.writeback import HubSpotCrm

        return HubSpotCrm()

    def sandbox(self) -> HubSpotSandbox:
        from leadflow.sources.hubspot.sandbox.embedded import HubSpotSandbox

        return HubSpotSandbox()
