"""Run dbt: one `dbt build` per run (models, seeds, snapshots and tests in DAG order).

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

from leadflow.config import PostgresSettings

log = logging.getLogger(__name__)


class DbtBuildFailed(RuntimeError):
    """dbt reported errors or failing tests; the message lists them."""


def project_dir() -> Path:
    override = os.environ.get("LEADFLOW_DBT_PROJECT_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "dbt_project"


def properties_read() -> dict[str, list[str]]:
    """The source properties the staging models read, per object type (dbt var
    hubspot_properties_read, declared once in dbt_project.yml)."""
    import yaml

    config = yaml.safe_load((project_dir() / "dbt_project.yml").read_text())
    return dict(config["vars"]["hubspot_properties_read"])


def dbt_build(
    pg: PostgresSettings,
    as_of: datetime,
    *,
    full_refresh: bool = False,
    unit_tests: bool = False,
    timeout_s: int = 1500,
) -> dict[str, Any]:
    """`dbt build` at `as_of` (the run's data interval end); returns counts per status.

    Without `unit_tests`, the models' unit tests are left out: they check SQL logic on fixed
    fixtures, so the data of an hourly run cannot fail them, and they cost about 4 s of the
    1M-contact hourly build. The test suite runs them (tests/test_dbt_rules.py).
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
    env = {
        **os.environ,
        **pg.dbt_env(),
        # as_of by env var, not --vars: changed vars force dbt to re-parse the whole project
        # (4.8 s before every hourly build), a changed env var only the six files that read it
        "LEADFLOW_AS_OF": as_of.isoformat(),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout_s)
    log.info("dbt build output:\n%s", proc.stdout[-20000:])
    counts, failures = _run_results(project)
    if proc.returncode != 0:
        detail = "\n".join(failures) or (proc.stdout[-3000:] + proc.stderr[-2000:])
        raise DbtBuildFailed(f"dbt build failed (exit {proc.returncode}):\n{detail}")
    return counts


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
