"""docker-compose.yml cannot run here (no Docker engine): keep it valid, complete, and
runnable without Docker through the Makefile targets it is mirrored by."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

from leadflow.cli import build_parser
from leadflow.settings import REPO_ROOT

AIRFLOW_COMMANDS = {"api-server", "scheduler", "dag-processor", "triggerer", "db", "dags", "jobs"}
AIRFLOW_SERVICES = ["api-server", "scheduler", "dag-processor", "triggerer"]


def _compose() -> dict:
    return yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())


def _commands(command: list[str] | str) -> list[list[str]]:
    """The commands a service runs; `bash -c "a && b"` is split into a and b."""
    words = command if isinstance(command, list) else command.split()
    if words[:2] == ["bash", "-c"]:
        return [part.split() for part in words[2].split("&&")]
    return [words]


def _check(words: list[str], where: str) -> None:
    leadflow_commands = set(build_parser()._subparsers._group_actions[0].choices)  # noqa: SLF001
    if words[0] == "leadflow":
        assert words[1] in leadflow_commands, (where, words)
    elif words[0] == "airflow":
        assert words[1] in AIRFLOW_COMMANDS, (where, words)
        assert Path(sys.executable).with_name("airflow").exists()
    elif words[0] == "python":
        assert words[1] == "-c", (where, words)
        compile(words[2], where, "exec")
    elif words[0] != "pg_isready":
        raise AssertionError(f"{where}: unknown command {words}")


def test_compose_names_the_full_stack_with_health_checks() -> None:
    services = _compose()["services"]
    for name in ["postgres", "hubspot-sandbox", *(f"airflow-{s}" for s in AIRFLOW_SERVICES)]:
        assert name in services, name
        test = services[name]["healthcheck"]["test"]
        assert test[0] == "CMD" and "curl" not in test, (name, test)  # slim image: no curl
        _check(test[1:], f"{name} healthcheck")
    for name in (f"airflow-{s}" for s in AIRFLOW_SERVICES):
        needs = services[name]["depends_on"]
        assert needs["airflow-init"]["condition"] == "service_completed_successfully", name
        assert needs["postgres"]["condition"] == "service_healthy", name


def test_the_hourly_dag_starts_unpaused() -> None:
    services = _compose()["services"]
    env = services["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "False"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"].startswith("postgresql+psycopg://")
    init = [" ".join(c) for c in _commands(services["airflow-init"]["command"])]
    assert init == [
        "airflow db migrate",
        "airflow dags reserialize",
        "airflow dags unpause lead_sync",
    ]


def test_every_service_command_exists_in_the_project() -> None:
    for name, service in _compose()["services"].items():
        if service.get("command") is None:
            continue
        for words in _commands(service["command"]):
            _check(words, name)


def test_mounted_paths_exist() -> None:
    for service in _compose()["services"].values():
        for volume in service.get("volumes", []):
            host = volume.split(":")[0]
            if host.startswith("./"):
                assert (REPO_ROOT / host).exists(), host


def test_every_service_also_runs_without_docker() -> None:
    """Each compose service has a Makefile target running the same command."""
    makefile = (REPO_ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([\w-]+):", makefile, re.M))
    targets |= set(re.search(r"^AIRFLOW_SERVICES := (.*)$", makefile, re.M).group(1).split())
    for name in [
        "postgres",
        "sandbox",
        "airflow-init",
        *(f"airflow-{s}" for s in AIRFLOW_SERVICES),
    ]:
        assert name in targets, name
    assert "airflow dags unpause lead_sync" in makefile
    assert "exec $(BIN)/airflow $(@:airflow-%=%)" in makefile
