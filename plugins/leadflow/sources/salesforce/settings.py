"""Salesforce's settings: the connection leadflow reads (My Domain URL in the host, the
connected app's client id and secret in login and password, for OAuth 2.0 client
credentials) and the tunables in its extra, declared with the core's `setting()`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from leadflow.settings import ConfigError, connection, read, setting

API_VERSION = "66.0"  # Spring '26; simple-salesforce would default to 59.0


@dataclass(frozen=True)
class SalesforceConnection:
    label: ClassVar[str] = "Airflow connection ids"

    conn_id: str = setting(
        "salesforce_default",
        "the Salesforce connection: My Domain URL, client id (login), client secret (password)",
        env="LEADFLOW_SALESFORCE_CONN_ID",
    )


@dataclass(frozen=True)
class SalesforceSettings:
    label: ClassVar[str] = "Salesforce connection"

    base_url: str = ""
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    api_version: str = setting(API_VERSION, "the REST API version", extra="api_version")
    ca_file: str = setting(
        "", "a CA certificate to trust instead of the system's (the sandbox's)", extra="ca_file"
    )
    timeout_s: float = setting(60.0, "seconds per request", extra="timeout_s", minimum=1)
    max_attempts: int = setting(
        6, "tries of a request that failed with 5xx or no answer", extra="max_attempts", minimum=1
    )
    backoff_s: float = setting(0.5, "first retry's wait, doubling", extra="backoff_s", minimum=0)
    api_reserve_percent: float = setting(
        10.0,
        "share of the daily API allocation leadflow leaves to other integrations: it stops there",
        extra="api_reserve_percent",
        minimum=0,
        maximum=100,
    )
    settle_s: int = setting(
        60,
        "a run reads records stamped at least this long ago (writes Salesforce commits late)",
        extra="settle_s",
        minimum=0,
    )
    bulk_first_load: bool = setting(
        True,
        "read a stream's first load through a Bulk API 2.0 query job (REST query otherwise)",
        extra="bulk_first_load",
    )
    query_batch_size: int = setting(
        2000,
        "records per query page asked for (Sforce-Query-Options; Salesforce may send fewer)",
        extra="query_batch_size",
        minimum=200,
        maximum=2000,
    )


@dataclass(frozen=True)
class SandboxSettings:
    """The local Salesforce-compatible sandbox: the client-credentials app it accepts."""

    label: ClassVar[str] = "Salesforce sandbox"

    client_id: str = setting(
        "sandbox-client",
        "the OAuth client id its token endpoint accepts",
        env="SALESFORCE_SANDBOX_CLIENT_ID",
    )
    client_secret: str = setting(
        "sandbox-secret",
        "the OAuth client secret its token endpoint accepts",
        env="SALESFORCE_SANDBOX_CLIENT_SECRET",
    )
    url: str = setting(
        "https://127.0.0.1:8766",
        "where the local stack finds the sandbox",
        env="LEADFLOW_SALESFORCE_SANDBOX_URL",
    )
    ca_file: str = setting(
        ".leadflow/salesforce-sandbox-ca.pem",
        "the CA certificate the local stack's sandbox wrote (its --ca-file)",
        env="LEADFLOW_SALESFORCE_SANDBOX_CA_FILE",
    )


SETTINGS: tuple[type, ...] = (SalesforceConnection, SalesforceSettings, SandboxSettings)


def conn_id() -> str:
    return read(SalesforceConnection).conn_id


def salesforce_settings(name: str | None = None) -> SalesforceSettings:
    """The Salesforce connection's URL, app credentials and extra, checked."""
    name = name or conn_id()
    conn = connection(name)
    if not conn.host or not conn.login or not conn.password:
        raise ConfigError(
            f"Airflow connection '{name}' needs the My Domain URL in its host and the connected "
            "app's client id and secret in its login and password (OAuth client credentials)."
        )
    host = conn.host if conn.host.startswith("http") else f"https://{conn.host}"
    if conn.port:
        host = f"{host}:{conn.port}"
    return read(
        SalesforceSettings,
        conn.extra_dejson,
        f"Airflow connection '{name}'",
        base_url=host.rstrip("/"),
        client_id=conn.login,
        client_secret=conn.password,
    )
