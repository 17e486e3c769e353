"""Salesforce's settings, declared with the core's `setting()`: so far those of its local
sandbox (`leadflow sandbox salesforce`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from leadflow.settings import setting

API_VERSION = "66.0"  # Spring '26; simple-salesforce would default to 59.0


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


SETTINGS: tuple[type, ...] = (SandboxSettings,)
