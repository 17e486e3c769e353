"""The DAG file imports cleanly, cheaply, and every task is bounded and retried."""

from __future__ import annotations

import ast
import subprocess
import sys
from datetime import timedelta

import pendulum
import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import CronDataIntervalTimetable

from leadflow.settings import REPO_ROOT


@pytest.fixture(scope="module")
def dag():
    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {"lead_sync"}
    return bag.dags["lead_sync"]


def test_every_task_has_retries_and_a_timeout(dag) -> None:
    for task in dag.tasks:
        assert task.execution_timeout is not None, task.task_id
        assert task.execution_timeout <= timedelta(minutes=30), task.task_id
        if task.task_id not in {"validate_raw", "validate_outgoing", "record_failure"}:
            # Quality gates and the failure recorder must not retry a deterministic verdict.
            assert task.retries >= 1, task.task_id


def test_schedule_is_an_explicit_hourly_interval_timetable(dag) -> None:
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.max_active_runs == 1
    assert dag.catchup is False


def test_consecutive_hourly_intervals_are_contiguous_and_non_empty(dag) -> None:
    """The scheduler's view (the core timetable), for scheduled and manual runs alike."""
    from airflow.serialization.encoders import coerce_to_core_timetable

    timetable = coerce_to_core_timetable(dag.timetable)
    start = pendulum.datetime(2026, 11, 23, 0, 30, tz="UTC")
    first = timetable.infer_manual_data_interval(run_after=start.add(hours=1))
    second = timetable.infer_manual_data_interval(run_after=start.add(hours=2))
    assert first.end - first.start == timedelta(hours=1)
    assert second.start == first.end
    assert second.end - second.start == timedelta(hours=1)


def test_pipeline_order(dag) -> None:
    order = [
        "begin",
        "extract",
        "validate_raw",
        "dbt_build",
        "validate_outgoing",
        "push_to_crm",
        "finish",
    ]
    for upstream, downstream in zip(order, order[1:], strict=False):
        assert downstream in dag.get_task(upstream).downstream_task_ids


def test_dag_file_is_cheap_to_import() -> None:
    """Airflow parses the DAG file before every task: it may list the configured sources'
    streams, but must not import the HTTP and database clients or anything that does I/O."""
    code = (
        "import sys, runpy\n"
        f"runpy.run_path({str(REPO_ROOT / 'dags' / 'lead_sync.py')!r})\n"
        "print(sorted(m for m in sys.modules if m.startswith('leadflow')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = set(ast.literal_eval(out.strip().splitlines()[-1]))
    assert loaded <= {
        "leadflow",
        "leadflow.errors",
        "leadflow.settings",
        "leadflow.sources",
        "leadflow.sources.hubspot",
        "leadflow.sources.hubspot.settings",
    }, loaded
