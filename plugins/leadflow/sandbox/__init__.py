"""HubSpot-compatible sandbox: an in-memory portal served over HTTP for demos and tests."""

from leadflow.sandbox.portal import ApiError, Portal
from leadflow.sandbox.server import SandboxConfig, SandboxServer, serve_forever

__all__ = ["ApiError", "Portal", "SandboxConfig", "SandboxServer", "serve_forever"]
