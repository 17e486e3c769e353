"""Settings declared once: the README's table is generated from the declarations, and both
connections are of types the Airflow UI knows (their providers are installed)."""

from __future__ import annotations

import pytest

from leadflow.settings import REPO_ROOT, settings_table

from .conftest import connection_env


def test_the_readme_settings_table_is_the_declared_settings() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    start, end = "<!-- settings:start -->\n", "\n<!-- settings:end -->"
    assert start in readme and end in readme
    shown = readme[readme.index(start) + len(start) : readme.index(end)]
    assert shown == settings_table(), (
        "README.md's settings table differs from the declarations; regenerate it with\n"
        "  python -c 'from leadflow.settings import settings_table; print(settings_table())'"
    )


def test_both_connections_are_types_the_airflow_ui_can_test(
    pg, monkeypatch: pytest.MonkeyPatch, airflow_home
) -> None:
    from airflow.providers.postgres.hooks.postgres import PostgresHook
    from airflow.providers_manager import ProvidersManager

    known = ProvidersManager().hooks
    assert "postgres" in known and "http" in known
    for key, value in connection_env(pg, "http://127.0.0.1:9", "t").items():
        monkeypatch.setenv(key, value)
    ok, message = PostgresHook(postgres_conn_id="leadflow_postgres").test_connection()
    assert ok, message
