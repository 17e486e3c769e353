"""Fixtures: sandbox servers on ephemeral ports, reached over real HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from leadflow.sources.hubspot.sandbox import Portal, SandboxConfig, SandboxServer

NOW = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
TOKEN = "test-token"
CONTACTS = 5000


@dataclass
class Sandbox:
    """A running server, its portal and a client carrying the right token."""

    portal: Portal
    server: SandboxServer
    http: httpx.Client
    now: datetime = NOW
    token: str = TOKEN


def _open(portal: Portal, config: SandboxConfig) -> Sandbox:
    server = SandboxServer(portal, config).start()
    http = httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    return Sandbox(portal, server, http)


def _close(sandbox: Sandbox) -> None:
    sandbox.http.close()
    sandbox.server.stop()


@pytest.fixture(scope="session")
def now() -> datetime:
    """The frozen "now" of every sandbox portal in these tests."""
    return NOW


@pytest.fixture(scope="session")
def generated() -> Iterator[Sandbox]:
    """A 5,000-contact generated portal shared by read-only tests: do not write to it."""
    sandbox = _open(Portal.generate(seed=7, contacts=CONTACTS, now=NOW), SandboxConfig(token=TOKEN))
    yield sandbox
    _close(sandbox)


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    """Factory for a private server: `make_sandbox(portal=None, **config_fields)`."""
    opened: list[Sandbox] = []

    def make(portal: Portal | None = None, **config: Any) -> Sandbox:
        portal = portal or Portal()
        portal.clock = lambda: NOW
        sandbox = _open(portal, SandboxConfig(token=TOKEN, **config))
        opened.append(sandbox)
        return sandbox

    yield make
    for sandbox in opened:
        _close(sandbox)


@pytest.fixture
def sandbox(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    """An empty portal (default properties, no owners) whose clock is frozen at NOW."""
    return make_sandbox()
