"""Wrong settings fail fast with a message that says what to fix, and leave nothing behind."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import pytest

from leadflow.db import connect, ensure_schema
from leadflow.errors import ConfigError
from leadflow.settings import PostgresSettings, postgres_settings
from leadflow.sources.hubspot.client import HubSpotAuthError, HubSpotClient, HubSpotUnreachable
from leadflow.sources.hubspot.settings import HubSpotSettings
from leadflow.sources.hubspot.streams import extract_stream

END = datetime(2026, 11, 23, 10, tzinfo=UTC)
START = END - timedelta(hours=1)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unreachable() -> HubSpotSettings:
    return HubSpotSettings(
        base_url=f"http://127.0.0.1:{_closed_port()}",
        token="t",
        timeout_s=2,
        max_attempts=2,
        backoff_s=0.01,
    )


def _nothing_written(pg: PostgresSettings) -> bool:
    with connect(pg) as conn:
        raw = conn.execute("select count(*) from raw.hubspot_contacts").fetchone()[0]
        cursors = conn.execute("select count(*) from leadflow.stream_state").fetchone()[0]
    return raw == 0 and cursors == 0


def test_unreachable_crm_names_the_host_and_the_connection(pg) -> None:
    ensure_schema(pg)
    hs = _unreachable()
    with pytest.raises(HubSpotUnreachable) as err, HubSpotClient(hs) as client:
        client.properties("contacts")
    assert "Cannot reach HubSpot at http://127.0.0.1" in str(err.value)
    assert "hubspot_default" in str(err.value)


def test_unreachable_crm_fails_the_extract_without_writing(pg) -> None:
    ensure_schema(pg)
    with pytest.raises(HubSpotUnreachable):
        extract_stream("contacts", pg, _unreachable(), START, END, "load")
    assert _nothing_written(pg)


def test_wrong_token_says_so_and_never_echoes_it(pg, sandbox) -> None:
    ensure_schema(pg)
    secret = "pat-na1-wrong-0000-secret"
    hs = HubSpotSettings(base_url=sandbox.url, token=secret)
    with pytest.raises(HubSpotAuthError) as err:
        extract_stream("contacts", pg, hs, START, END, "load")
    message = str(err.value)
    assert "rejected the access token" in message and "hubspot_default" in message
    assert secret not in message
    assert secret not in repr(hs)
    assert _nothing_written(pg)


def test_missing_postgres_says_where_it_looked() -> None:
    pg = PostgresSettings(host="/nonexistent/socket/dir", dbname="leadflow")
    with pytest.raises(ConfigError) as err:
        ensure_schema(pg)
    assert "Cannot connect to Postgres at /nonexistent/socket/dir" in str(err.value)
    assert "leadflow_postgres" in str(err.value)


def test_undefined_connection_says_how_to_define_it(monkeypatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_LEADFLOW_POSTGRES", raising=False)
    with pytest.raises(ConfigError) as err:
        postgres_settings()
    assert "AIRFLOW_CONN_LEADFLOW_POSTGRES" in str(err.value)
