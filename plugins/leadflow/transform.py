"""Run dbt: one `dbt build` per run (models, seeds, snapshots and tests in DAG order), and any
dbt command for a person (`leadflow dbt ...`), with the profile taken from the warehouse
connection.

dbt runs as a subprocess so a timeout can kill it cleanly; PGOPTIONS gives every dbt query a
statement_timeout, so nothing keeps running in Postgres after a killed build.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from leadflow.errors import LeadflowError
from leadflow.settings import PostgresSettings, paths
from leadflow.stats import BuildStats

log = logging.getLogger(__name__)


class DbtBuildFailed(LeadflowError):
    """dbt reported errors or failing tests; the message lists them."""


def project_dir() -> Path:
    return Path(paths().dbt_project_dir)


def properties_read(source: str) -> dict[str, list[str]]:
    """The properties of `source` the staging models read, per object type (the dbt var
    `<source>_properties_read`, declared once in dbt_project.yml)."""
    import yaml

    config = yaml.safe_load((project_dir() / "dbt_project.yml").read_text())
    return dict(config["vars"].get(f"{source}_properties_read") or {})


def dbt_env(pg: PostgresSettings, as_of: datetime | None = None) -> dict[str, str]:
    """The environment a dbt command needs: the profile's connection (profiles.yml reads it),
    and as_of. as_of goes by env var, not --vars: changed vars make dbt re-parse the whole
    project before every hourly build, a changed env var only the files that read it."""
    env = {**os.environ, **pg.dbt_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    if as_of is not None:
        env["LEADFLOW_AS_OF"] = as_of.isoformat()
    return env


def run_dbt(pg: PostgresSettings, args: list[str], as_of: datetime | None = None) -> int:
    """`dbt <args>` in the project with the warehouse connection's profile; its exit code."""
    project = project_dir()
    dbt = Path(sys.executable).with_name("dbt")
    cmd = [str(dbt), *args]
    if args and args[0] not in ("--version", "-v", "--help", "-h"):
        cmd += ["--project-dir", str(project), "--profiles-dir", str(project)]
    return subprocess.run(cmd, env=dbt_env(pg, as_of), cwd=project).returncode


def dbt_build(
    pg: PostgresSettings,
    as_of: datetime,
    *,
    full_refresh: bool = False,
    unit_tests: bool = False,
    timeout_s: int = 1500,
) -> BuildStats:
    """`dbt build` at `as_of` (the run's data interval end); returns counts per status.

    Without `unit_tests`, the models' unit tests are left out: they check SQL logic on fixed
    fixtures, so the data of an hourly run cannot fail them, and they cost seconds of every
    hourly build. The test suite runs them (tests/test_dbt_rules.py).
    """
    project = project_dir()
    dbt = Path(sys.executable).with_name("dbt")
    cmd = [
        str(dbt),
        "build",
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project),
    ]
    if full_refresh:
        cmd.append("--full-refresh")
    if not unit_tests:
        cmd += ["--exclude-resource-type", "unit_test"]
    proc = subprocess.run(
        cmd, env=dbt_env(pg, as_of), capture_output=True, text=True, timeout=timeout_s
    )
    log.info("dbt build output:\n%s", proc.stdout[-20000:])
    counts, failures = _run_results(project)
    if proc.returncode != 0:
        detail = "\n".join(failures) or (proc.stdout[-3000:] + proc.stderr[-2000:])
        raise DbtBuildFailed(f"dbt build failed (exit {proc.returncode}):\n{detail}")
    return BuildStats.from_dict(counts)


def run_results_file(project: Path | None = None) -> Path:
    """Where dbt wrote the last invocation's run_results.json (DBT_TARGET_PATH honoured)."""
    project = project or project_dir()
    target = Path(os.environ.get("DBT_TARGET_PATH", project / "target"))
    path = target if target.is_absolute() else project / target
    return path / "run_results.json"


def _run_results(project: Path) -> tuple[dict[str, Any], list[str]]:
    results_file = run_results_file(project)
    if not results_file.exists():
        return {}, []
    data = json.loads(results_file.read_text())
    counts: dict[str, Any] = {"elapsed_s": round(data.get("elapsed_time", 0.0), 2)}
    failures = []
    for result in data.get("results", []):
        status = result["status"]
        counts[status] = counts.get(status, 0) + 1
        if status in ("error", "fail"):
            failures.append(f"- {result['unique_id']}: {status}: {result.get('message')}")
    return counts, failures
