"""HubSpot-compatible sandbox: an in-memory portal served over HTTP for demos and tests."""

from leadflow.sources.hubspot.sandbox.portal import Portal
from leadflow.sources.hubspot.sandbox.server import SandboxConfig, SandboxServer
from leadflow.sources.hubspot.sandbox.values import ApiError

__all__ = ["ApiError", "Portal", "SandboxConfig", "SandboxServer"]
