"""Run records in Postgres: written at the start, updated at the end.

Callbacks do not run when a task is SIGKILLed; a row left 'running' past its time is the
trace such a run leaves, and `leadflow report`/ops can see it.
"""

from __future__ import annotations

import json
from datetime import datetime

from leadflow.db import connect
from leadflow.settings import PostgresSettings
from leadflow.stats import RunStats


def start_run(pg: PostgresSettings, run_id: str, start: datetime, end: datetime) -> None:
    with connect(pg) as conn:
        conn.execute(
            """
            insert into leadflow.runs (run_id, interval_start, interval_end, status)
            values (%s, %s, %s, 'running')
            on conflict (run_id) do update
                set status = 'running', started_at = now(), finished_at = null, error = null
            """,
            (run_id, start, end),
        )


def finish_run(
    pg: PostgresSettings, run_id: str, status: str, stats: RunStats, error: str | None = None
) -> None:
    with connect(pg) as conn:
        conn.execute(
            """
            update leadflow.runs
            set status = %s, finished_at = now(), stats = %s, error = %s
            where run_id = %s
            """,
            (status, json.dumps(stats.as_dict(), default=str), error, run_id),
        )
