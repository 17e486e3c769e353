"""`leadflow doctor`: every prerequisite of a run, checked one by one, with what to fix.

Each check is independent and catches its own errors, so one broken connection still lets
the others report. The core checks the warehouse, the GX suites, the DAG and dbt; each source
checks its own connection, token, scopes and schema (its package's doctor.py). Nothing here
writes to a source.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from leadflow.errors import ConfigError
from leadflow.settings import PostgresSettings

MIN_POSTGRES = 14
SYMBOLS = {"ok": "✓", "warn": "!", "fail": "✗", "skip": "-"}


@dataclass
class Check:
    name: str
    status: str  # ok | warn | fail | skip
    detail: str = ""
    fix: str = ""

    def line(self) -> str:
        text = f"{SYMBOLS[self.status]} {self.name}"
        if self.detail:
            text += f": {self.detail}"
        if self.fix and self.status in ("fail", "warn"):
            text += f"\n    {'fix' if self.status == 'fail' else 'note'}: {self.fix}"
        return text


def schema_tables() -> list[str]:
    """The tables the schema files create: what `begin` guarantees before every run."""
    from leadflow.sources import configured

    ddl = resources.files("leadflow").joinpath("schema.sql").read_text()
    ddl += "".join(source.schema_sql() for source in configured())
    return re.findall(r"create table if not exists (\w+\.\w+)", ddl)


def _postgres(results: list[Check]) -> PostgresSettings | None:
    from leadflow.db import open_connection
    from leadflow.settings import Connections, postgres_settings, read

    conn_id = read(Connections).postgres
    try:
        pg = postgres_settings()
    except ConfigError as exc:
        results.append(Check(f"connection {conn_id}", "fail", "not usable", str(exc)))
        return None
    where = pg.host if pg.host.startswith("/") else f"{pg.host}:{pg.port}"
    results.append(Check(f"connection {conn_id}", "ok", f"{where}/{pg.dbname}"))
    try:
        conn = open_connection(pg)
    except ConfigError as exc:
        results.append(Check("Postgres reachable", "fail", "cannot connect", str(exc)))
        return None
    with conn:
        version = int(conn.execute("show server_version_num").fetchone()[0]) // 10000
        results.append(
            Check(
                "Postgres version",
                "ok" if version >= MIN_POSTGRES else "fail",
                f"{version}",
                f"use PostgreSQL {MIN_POSTGRES} or newer",
            )
        )
        expected = schema_tables()
        present = {
            f"{s}.{t}"
            for s, t in conn.execute(
                "select table_schema, table_name from information_schema.tables"
                " where table_schema in ('raw', 'leadflow')"
            ).fetchall()
        }
        missing = [t for t in expected if t not in present]
        results.append(
            Check(
                "leadflow schema",
                "ok" if not missing else "warn",
                f"{len(expected) - len(missing)}/{len(expected)} tables"
                + (f", missing {', '.join(missing)}" if missing else ""),
                "nothing to do on a fresh database: every run creates them first (`leadflow run`)",
            )
        )
        (built,) = conn.execute(
            "select to_regclass('marts.crm_outgoing_contacts') is not null"
        ).fetchone()
        results.append(
            Check(
                "dbt marts built",
                "ok" if built else "warn",
                "marts.crm_outgoing_contacts present" if built else "not built yet",
                "run the pipeline once (`leadflow run`); `leadflow plan/report` need the marts",
            )
        )
    return pg


def _suites(results: list[Check]) -> None:
    from leadflow import quality

    names = sorted(p.stem for p in quality.expectations_dir().glob("*.json"))
    if not names:
        results.append(
            Check(
                "GX suites",
                "fail",
                f"none in {quality.expectations_dir()}",
                "point LEADFLOW_EXPECTATIONS_DIR at the repo's expectations/ folder",
            )
        )
        return
    try:
        from great_expectations.expectations.registry import get_expectation_impl
    except ImportError:  # pragma: no cover - GX is a hard dependency
        get_expectation_impl = None  # type: ignore[assignment]
    for name in names:
        try:
            spec = quality.load_suite(name)
            if "table" not in spec and "query" not in spec:
                raise ValueError("has neither 'table' nor 'query'")
            for e in spec["expectations"]:
                if get_expectation_impl is not None:
                    get_expectation_impl(e["type"])
            results.append(Check(f"GX suite {name}", "ok", f"{len(spec['expectations'])} checks"))
        except Exception as exc:  # any defect in a suite file is the operator's to fix
            results.append(
                Check(
                    f"GX suite {name}",
                    "fail",
                    f"{type(exc).__name__}: {exc}",
                    f"fix expectations/{name}.json",
                )
            )


def _dbt(results: list[Check], pg: PostgresSettings | None) -> None:
    from leadflow.transform import dbt_env, project_dir

    project = project_dir()
    dbt = Path(sys.executable).with_name("dbt")
    env = (
        dbt_env(pg) if pg is not None else {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    )
    proc = subprocess.run(
        [str(dbt), "parse", "--project-dir", str(project), "--profiles-dir", str(project)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode == 0:
        results.append(Check("dbt project parses", "ok", str(project)))
    else:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
        results.append(
            Check(
                "dbt project parses",
                "fail",
                " | ".join(tail),
                f"run `dbt parse --project-dir {project} --profiles-dir {project}` and fix the"
                " model or seed it names",
            )
        )


def _dag(results: list[Check]) -> None:
    from leadflow.local import load_lead_sync

    try:
        dag = load_lead_sync()
        results.append(Check("DAG lead_sync imports", "ok", f"{len(dag.tasks)} tasks"))
    except Exception as exc:  # import errors of the DAG file are reported, not raised
        results.append(Check("DAG lead_sync imports", "fail", str(exc)[:300], "fix dags/"))


def run_checks(skip_dbt: bool = False) -> list[Check]:
    from leadflow.sources import configured

    results: list[Check] = []
    pg = _postgres(results)
    for source in configured():
        results += source.checks()
    _suites(results)
    steps: list[Callable[[], None]] = [lambda: _dag(results)]
    if skip_dbt:
        results.append(Check("dbt project parses", "skip", "--skip-dbt"))
    else:
        steps.append(lambda: _dbt(results, pg))
    for step in steps:
        step()
    return results
