"""Shared fixtures: one embedded Postgres per session, a fresh database per test, a real
Airflow home, and the HubSpot sandbox over real HTTP.

Airflow reads its config at import, so its env vars are set here before anything imports it.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="leadflow-tests-"))

from leadflow.local import airflow_env  # noqa: E402

os.environ.update(airflow_env(_SESSION_DIR / "airflow"))
os.environ["DBT_TARGET_PATH"] = str(_SESSION_DIR / "dbt_target")
# Every test portal is synthetic, so its first push needs no person to confirm it (as in the
# demo); the tests of that confirmation switch it back on.
os.environ["LEADFLOW_BREAKER_CONFIRM_FIRST_PUSH"] = "false"

from leadflow.local import (  # noqa: E402
    prepare_airflow,
    start_embedded_postgres,
    stop_embedded_postgres,
    warehouse_env,
)
from leadflow.settings import PostgresSettings  # noqa: E402
from leadflow.sources.hubspot.sandbox import embedded  # noqa: E402
from leadflow.sources.hubspot.settings import HubSpotSettings  # noqa: E402

if TYPE_CHECKING:
    from leadflow.sources.hubspot.sandbox import SandboxServer

TOKEN = "test-token"
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def connection_env(
    pg: PostgresSettings, url: str, token: str, extra: dict[str, Any] | None = None
) -> dict[str, str]:
    """The AIRFLOW_CONN_* env vars of the warehouse and of HubSpot, at `pg` and `url`."""
    return {**warehouse_env(pg), **embedded.connection_env(url, token, extra)}


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresSettings]:
    yield start_embedded_postgres(_SESSION_DIR / "pgdata", dbname="postgres")
    stop_embedded_postgres(_SESSION_DIR / "pgdata")


@pytest.fixture
def pg(pg_server: PostgresSettings) -> Iterator[PostgresSettings]:
    """A fresh, empty database for each test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(**pg_server.conninfo(), autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    settings = PostgresSettings(host=pg_server.host, port=pg_server.port, dbname=name)
    yield settings
    with psycopg.connect(**pg_server.conninfo(), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    """An empty portal served over HTTP; tests add the records they need."""
    from leadflow.sources.hubspot.sandbox import Portal, SandboxConfig, SandboxServer

    portal = Portal()
    portal.clock = lambda: NOW
    server = SandboxServer(portal, SandboxConfig(token=TOKEN), port=0).start()
    yield server
    server.stop()


@pytest.fixture
def hs(sandbox: SandboxServer) -> HubSpotSettings:
    return HubSpotSettings(
        base_url=sandbox.url, token=TOKEN, rate_limit_per_10s=1000, search_rate_per_s=100
    )


@pytest.fixture
def connections(
    pg: PostgresSettings, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> PostgresSettings:
    """Point the Airflow connections leadflow reads at this test's Postgres and sandbox."""
    extra = {"rate_limit_per_10s": 1000, "search_rate_per_s": 100}
    for key, value in connection_env(pg, sandbox.url, TOKEN, extra).items():
        monkeypatch.setenv(key, value)
    return pg


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    home = _SESSION_DIR / "airflow"
    prepare_airflow(home)
    return home
