"""HubSpot's settings: the connection leadflow reads (a private-app token in its password) and
the tunables in its extra, declared with the core's `setting()` and read by leadflow.settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from leadflow.settings import ConfigError, connection, read, setting

HUBSPOT_API_URL = "https://api.hubapi.com"


@dataclass(frozen=True)
class HubSpotConnection:
    label: ClassVar[str] = "Airflow connection ids"

    conn_id: str = setting(
        "hubspot_default",
        "the HubSpot connection: host, private-app token in the password",
        env="LEADFLOW_HUBSPOT_CONN_ID",
    )


@dataclass(frozen=True)
class HubSpotSettings:
    label: ClassVar[str] = "HubSpot connection"

    base_url: str = HUBSPOT_API_URL
    token: str = field(default="", repr=False)
    rate_limit_per_10s: int = setting(
        100,
        "requests per 10 s of the token's tier (100 Free/Starter, 190 Pro/Enterprise)",
        extra="rate_limit_per_10s",
        minimum=1,
    )
    search_rate_per_s: int = setting(
        4, "search requests per second (HubSpot's own limit)", extra="search_rate_per_s", minimum=1
    )
    timeout_s: float = setting(30.0, "seconds per request", extra="timeout_s", minimum=1)
    max_attempts: int = setting(
        8, "tries of a request that failed with 5xx or no answer", extra="max_attempts", minimum=1
    )
    backoff_s: float = setting(0.5, "first retry's wait, doubling", extra="backoff_s", minimum=0)
    # HubSpot lists events by occurrence time only, so an event it records late lies behind
    # the cursor: every run re-reads this much before it, and one hour at each of these lags,
    # and keeps the events it has not seen.
    events_lookback_minutes: int = setting(
        120,
        "how far back each run re-reads events, for events HubSpot records late",
        extra="events_lookback_minutes",
        minimum=0,
    )
    events_rescan_hours: tuple[int, ...] = setting(
        (24, 168),
        "lags at which each run rescans one hour of events (each costs an hour of events)",
        extra="events_rescan_hours",
        minimum=1,
    )


@dataclass(frozen=True)
class SandboxSettings:
    """The local HubSpot-compatible sandbox (`leadflow sandbox`, the Makefile's stack)."""

    label: ClassVar[str] = "HubSpot sandbox"

    token: str = setting(
        "sandbox-token", "the token the sandbox accepts", env="HUBSPOT_SANDBOX_TOKEN"
    )
    url: str = setting(
        "http://127.0.0.1:8765",
        "where the local stack finds the sandbox",
        env="LEADFLOW_SANDBOX_URL",
    )


SETTINGS: tuple[type, ...] = (HubSpotConnection, HubSpotSettings, SandboxSettings)


def conn_id() -> str:
    return read(HubSpotConnection).conn_id


def hubspot_settings(name: str | None = None) -> HubSpotSettings:
    """The HubSpot connection's token, host and extra, checked."""
    name = name or conn_id()
    conn = connection(name)
    if not conn.password:
        raise ConfigError(
            f"Airflow connection '{name}' has no password: put the HubSpot private-app "
            "access token there."
        )
    host = conn.host or HUBSPOT_API_URL
    if not host.startswith("http"):
        host = f"https://{host}"
    if conn.port:
        host = f"{host}:{conn.port}"
    return read(
        HubSpotSettings,
        conn.extra_dejson,
        f"Airflow connection '{name}'",
        base_url=host.rstrip("/"),
        token=conn.password,
    )
