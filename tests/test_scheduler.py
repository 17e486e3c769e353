"""lead_sync under a real Airflow scheduler, not dag.test: LocalExecutor, a Postgres metadata
database, api-server, scheduler and dag-processor started here as the deployment runs them. The
push task's process is SIGKILLed mid-push (as the OOM killer would); Airflow must notice, retry
it, and the run must end as an uninterrupted one does, each change sent to the CRM once.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from leadflow.local import run_lead_sync, stack_env
from leadflow.settings import PostgresSettings
from leadflow.sources.hubspot.sandbox import Portal, SandboxConfig, SandboxServer

from .conftest import connection_env
from .test_push import SendRecorder

AIRFLOW = str(Path(sys.executable).with_name("airflow"))
SEED, CONTACTS = 21, 2000
# The push must last long enough to be caught mid-way: every request waits this long.
LATENCY_MS = 150
OUTGOING = ["lifecyclestage", "leadflow_stage", "leadflow_score", "leadflow_fit_grade"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _database(server: PostgresSettings, prefix: str) -> PostgresSettings:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(**server.conninfo(), autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    return PostgresSettings(host=server.host, port=server.port, dbname=name)


def _rows(pg: PostgresSettings, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(**pg.conninfo()) as conn:
        return conn.execute(sql, args).fetchall()


class AirflowStack:
    """api-server, scheduler and dag-processor as subprocesses on one metadata database."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home, self.env = home, env
        self.procs: list[subprocess.Popen[bytes]] = []

    def airflow(self, *args: str) -> None:
        proc = subprocess.run([AIRFLOW, *args], env=self.env, capture_output=True, timeout=300)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]

    def start(self, api_port: int) -> None:
        self.airflow("db", "migrate")
        for name, args in (
            ("api-server", ["api-server", "--port", str(api_port)]),
            ("scheduler", ["scheduler"]),
            ("dag-processor", ["dag-processor"]),
        ):
            log = (self.home / f"{name}.log").open("wb")
            self.procs.append(
                subprocess.Popen(
                    [AIRFLOW, *args],
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its task processes go with it at the end
                )
            )

    def stop(self) -> None:
        for proc in self.procs:
            with _suppress_lookup():
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                with _suppress_lookup():
                    os.killpg(proc.pid, signal.SIGKILL)

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(self.home.glob("*.log"))
        )


def _suppress_lookup() -> Any:
    import contextlib

    return contextlib.suppress(ProcessLookupError)


@pytest.fixture
def stack(pg_server: PostgresSettings, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A generated portal as of this hour behind a slow sandbox, a warehouse, and Airflow."""
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    portal = Portal.generate(seed=SEED, contacts=CONTACTS, now=hour)
    recorder = SendRecorder(portal)
    server = SandboxServer(portal, SandboxConfig(token="t", latency_ms=LATENCY_MS)).start()
    warehouse, metadata = _database(pg_server, "sched"), _database(pg_server, "sched_airflow")
    port = _free_port()
    env = {
        **os.environ,
        **stack_env(warehouse, metadata.dbname, tmp_path / "airflow", sources_env={}),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "DBT_TARGET_PATH": str(tmp_path / "dbt_target"),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
    }
    env.update(
        connection_env(
            warehouse, server.url, "t", {"rate_limit_per_10s": 1000, "search_rate_per_s": 100}
        )
    )
    airflow = AirflowStack(tmp_path, env)
    try:
        airflow.start(port)
        yield {
            "airflow": airflow,
            "metadata": metadata,
            "warehouse": warehouse,
            "portal": portal,
            "sent": recorder,
            "hour": hour,
        }
    finally:
        airflow.stop()
        server.stop()


def _wait_for(what: str, check: Any, timeout: float, stack: AirflowStack, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}\n{stack.logs()}")


def test_a_task_killed_under_the_scheduler_is_retried_and_the_run_ends_like_a_clean_one(
    stack: dict[str, Any],
    pg_server: PostgresSettings,
    airflow_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    airflow, metadata, warehouse = stack["airflow"], stack["metadata"], stack["warehouse"]

    def meta(sql: str, *args: Any) -> list[tuple[Any, ...]]:
        return _rows(metadata, sql, *args)

    _wait_for(
        "the dag-processor to register lead_sync",
        lambda: meta("select 1 from dag where dag_id = 'lead_sync'"),
        120,
        airflow,
    )
    airflow.airflow("dags", "unpause", "lead_sync")  # catchup off: the hour that just ended

    def pushing() -> int | None:
        """The push task's pid once it has recorded its first batches."""
        rows = meta(
            "select pid from task_instance where dag_id = 'lead_sync'"
            " and task_id = 'push_to_crm' and state = 'running' and pid is not null"
        )
        started = rows and _rows(warehouse, "select count(*) from leadflow.push_log")[0][0] > 0
        return rows[0][0] if started else None

    pid = _wait_for("the push to send its first batches", pushing, 600, airflow, every=0.02)
    os.kill(pid, signal.SIGKILL)
    sent_when_killed = sum(stack["sent"].updates.values())
    assert sent_when_killed < CONTACTS  # mid-push

    def finished() -> tuple[str, datetime] | None:
        rows = meta("select state, data_interval_end from dag_run where dag_id = 'lead_sync'")
        return rows[0] if rows and rows[0][0] in ("success", "failed") else None

    state, interval_end = _wait_for("the run to end", finished, 420, airflow)
    assert state == "success", airflow.logs()
    tries = meta(
        "select try_number, state from task_instance_history"
        " where dag_id = 'lead_sync' and task_id = 'push_to_crm' order by try_number"
    )
    (final_try,) = meta(
        "select try_number from task_instance where dag_id = 'lead_sync'"
        " and task_id = 'push_to_crm' and state = 'success'"
    )[0]
    assert tries == [(1, "failed")] and final_try == 2  # Airflow saw the kill and retried
    # Each change reached the CRM once, the killed try's last batches included.
    assert len(stack["sent"].updates) == CONTACTS
    assert set(stack["sent"].updates.values()) == {1}

    # The same hour, uninterrupted, on an identical portal and an empty warehouse.
    clean_portal = Portal.generate(seed=SEED, contacts=CONTACTS, now=stack["hour"])
    clean_pg = _database(pg_server, "sched_clean")
    with SandboxServer(clean_portal, SandboxConfig(token="t")) as clean:
        extra = {"rate_limit_per_10s": 1000, "search_rate_per_s": 100}
        for key, value in connection_env(clean_pg, clean.url, "t", extra).items():
            monkeypatch.setenv(key, value)
        assert run_lead_sync(interval_end).state == "success"

    def crm(portal: Portal) -> dict[int, list[str | None]]:
        return {
            obj.id: [obj.properties.get(name) for name in OUTGOING]
            for obj in portal._objects["contacts"].values()  # noqa: SLF001
        }

    assert crm(stack["portal"]) == crm(clean_portal)
    state_sql = "select contact_id, properties from leadflow.push_state order by contact_id"
    assert _rows(warehouse, state_sql) == _rows(clean_pg, state_sql)
    assert _rows(warehouse, "select count(*) from leadflow.push_inflight") == [(0,)]
