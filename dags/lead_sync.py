"""lead_sync: every hour, CRM + marketing events -> Postgres -> dbt -> GX gate -> push to CRM.

Thin on purpose: the work lives in the `leadflow` package (plugins/leadflow) and is imported
inside the tasks, so parsing this file does no I/O and stays cheap.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, TriggerRule, dag, task

from leadflow.sources import configured

# Every stream of every configured source, one mapped extract task each.
STREAMS = [stream for source in configured() for stream in source.streams]

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "leadflow",
    "retries": 2,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "execution_timeout": timedelta(minutes=30),
}


def _alert_on_failure(context: dict[str, Any]) -> None:
    """Final-failure callback: alert ops (best-effort; also recorded in leadflow.alerts)."""
    from leadflow import alerts

    alerts.on_task_failure(context)


def _ctx(context: dict[str, Any]) -> Any:
    from leadflow.pipeline import RunContext

    return RunContext(
        run_id=context["run_id"],
        interval_start=context["data_interval_start"],
        interval_end=context["data_interval_end"],
    )


@dag(
    dag_id="lead_sync",
    # An explicit data-interval timetable: each run covers [start, end) of one hour, and
    # consecutive runs are contiguous (a bare cron string would give point-in-time runs).
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    dagrun_timeout=timedelta(hours=2),
    params={
        "dry_run": Param(False, type="boolean", description="Plan the push, send nothing"),
        "force_push": Param(
            False,
            type="boolean",
            description="Push even if the volume circuit breaker trips (after a human checked)",
        ),
    },
    tags=["leadflow", "crm"],
    doc_md=__doc__,
)
def lead_sync() -> None:
    @task
    def begin(**context: Any) -> None:
        from leadflow import pipeline

        pipeline.begin(_ctx(context))

    @task(max_active_tis_per_dagrun=3)
    def extract(stream: str, **context: Any) -> dict[str, Any]:
        from leadflow import pipeline

        return pipeline.extract(_ctx(context), stream)

    @task(retries=0)
    def validate_raw(**context: Any) -> dict[str, Any]:
        from leadflow import pipeline

        return pipeline.validate_raw(_ctx(context))

    @task(execution_timeout=timedelta(minutes=25))
    def dbt_build(**context: Any) -> dict[str, Any]:
        from leadflow import pipeline

        return pipeline.transform(_ctx(context))

    @task(retries=0)
    def validate_outgoing(**context: Any) -> dict[str, Any]:
        """GX suite + volume circuit breaker; a verdict, so it is not retried."""
        from leadflow import pipeline

        return pipeline.validate_outgoing(
            _ctx(context), force_push=bool(context["params"].get("force_push", False))
        )

    @task(on_failure_callback=_alert_on_failure)
    def push_to_crm(**context: Any) -> dict[str, Any]:
        from leadflow import pipeline

        return pipeline.push_back(_ctx(context), dry_run=bool(context["params"]["dry_run"]))

    @task
    def finish(
        extracted: list[dict[str, Any]],
        built: dict[str, Any],
        pushed: dict[str, Any],
        **context: Any,
    ) -> dict[str, Any]:
        from leadflow import pipeline

        return pipeline.finish(
            _ctx(context), [extracted[i] for i in range(len(extracted))], built, pushed
        )

    @task(trigger_rule=TriggerRule.ALL_DONE, retries=0)
    def record_failure(**context: Any) -> None:
        """Once every other task is done (retries included): if any failed, record which and
        fail too, so the run itself ends failed; otherwise skip."""
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from leadflow import pipeline

        ti = context["ti"]
        states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id])
        failed = pipeline.failed_steps(states.get(ti.run_id, {}), STREAMS)
        if not failed:
            raise AirflowSkipException("no task failed")
        pipeline.fail(_ctx(context), failed)
        raise AirflowFailException(f"lead_sync failed at: {', '.join(failed)}")

    started = begin()
    extracted = extract.expand(stream=STREAMS)
    raw_ok = validate_raw()
    built = dbt_build()
    gate = validate_outgoing()
    pushed = push_to_crm()
    done = finish(extracted, built, pushed)
    started >> extracted >> raw_ok >> built >> gate >> pushed
    [started, extracted, raw_ok, built, gate, pushed, done] >> record_failure()


dag_object = lead_sync()
