"""docker-compose.yml cannot run here (no Docker engine): keep it valid and runnable."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml
from leadflow.cli import build_parser
from leadflow.local import REPO_ROOT

AIRFLOW_COMMANDS = {"api-server", "scheduler", "dag-processor", "triggerer", "db"}


def _compose() -> dict:
    return yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())


def test_compose_names_the_full_stack() -> None:
    services = _compose()["services"]
    for name in (
        "postgres",
        "airflow-api-server",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "hubspot-sandbox",
    ):
        assert name in services, name
    for name, service in services.items():
        assert "healthcheck" in service or name == "airflow-init", name


def test_every_service_command_exists_in_the_project() -> None:
    leadflow_commands = set(build_parser()._subparsers._group_actions[0].choices)  # noqa: SLF001
    for name, service in _compose()["services"].items():
        command = service.get("command")
        if command is None:
            continue
        words = command if isinstance(command, list) else command.split()
        if words[0] == "leadflow":
            assert words[1] in leadflow_commands, (name, words)
        elif words[0] == "airflow":
            assert words[1] in AIRFLOW_COMMANDS, (name, words)
            assert Path(sys.executable).with_name("airflow").exists()
        else:
            raise AssertionError(f"{name}: unknown command {words}")


def test_mounted_paths_exist() -> None:
    for service in _compose()["services"].values():
        for volume in service.get("volumes", []):
            host = volume.split(":")[0]
            if host.startswith("./"):
                assert (REPO_ROOT / host).exists(), host
