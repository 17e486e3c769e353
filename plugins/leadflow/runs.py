"""Run records in Postgres: written at the start, updated at the end.

Callbacks do not run when a task is SIGKILLed; a row left 'running' past its time is the
trace such a run leaves, and `leadflow report`/ops can see it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from leadflow.config import PostgresSettings
from leadflow.db import connect


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
    pg: PostgresSettings, run_id: str, status: str, stats: dict[str, Any], error: str | None = None
) -> None:
    with connect(pg) as conn:
        conn.execute(
            """
            update leadflow.runs
            set status = %s, finished_at = now(), stats = %s, error = %s
            where run_id = %s
            """,
            (status, json.dumps(stats, default=str), error, run_id),
        )
