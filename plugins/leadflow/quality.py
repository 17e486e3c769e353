"""Great Expectations gates: suites live as JSON in `expectations/`, results in Postgres.

GX runs its checks as SQL in Postgres (no data pulled into pandas). A failed blocking suite
raises QualityGateFailed, which fails the task and so blocks everything downstream (the push);
a validation that only logs would protect nothing.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leadflow.config import PostgresSettings
from leadflow.db import connect

log = logging.getLogger(__name__)

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
# GX suggests its PostgresDatasource, which rejects unix-socket hosts; the generic one is meant.
warnings.filterwarnings("ignore", message="You are using a generic SQLDatasource")


def expectations_dir() -> Path:
    override = os.environ.get("LEADFLOW_EXPECTATIONS_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "expectations"


class QualityGateFailed(RuntimeError):
    """A blocking suite failed: the data stays in Postgres for inspection, nothing is pushed."""


@dataclass
class SuiteResult:
    suite: str
    success: bool
    evaluated: int
    failed: int
    failures: list[dict[str, Any]]

    def summary(self) -> str:
        lines = [f"suite {self.suite}: {self.failed} of {self.evaluated} expectations failed"]
        for f in self.failures:
            lines.append(
                f"  - {f['expectation']} on {f.get('column') or 'table'}: "
                f"{f.get('unexpected_count', '?')} bad rows, e.g. {f.get('examples')}"
            )
        return "\n".join(lines)


def load_suite(name: str) -> dict[str, Any]:
    path = expectations_dir() / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"No expectation suite {path}")
    return json.loads(path.read_text())


def validate(pg: PostgresSettings, suite_name: str, run_id: str) -> SuiteResult:
    """Run one suite against its table or query, store the outcome, raise if it blocks."""
    spec = load_suite(suite_name)
    result = _run_gx(pg, spec)
    _record(pg, run_id, result)
    log.info(result.summary())
    if not result.success and spec.get("blocking", True):
        raise QualityGateFailed(
            f"Quality gate '{suite_name}' failed; nothing downstream runs.\n{result.summary()}\n"
            f"Inspect the rows in Postgres ({spec.get('schema', '')}.{spec.get('table', 'query')})"
            f" and leadflow.quality_results where run_id = '{run_id}'."
        )
    return result


def _run_gx(pg: PostgresSettings, spec: dict[str, Any]) -> SuiteResult:
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    name = spec["name"]
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_sql(name="leadflow", connection_string=pg.sqlalchemy_url())
    if "query" in spec:
        asset = source.add_query_asset(name=name, query=spec["query"])
    else:
        asset = source.add_table_asset(
            name=name, table_name=spec["table"], schema_name=spec["schema"]
        )
    batch = asset.add_batch_definition_whole_table("all_rows")
    suite = gx.ExpectationSuite(name=name)
    for expectation in spec["expectations"]:
        suite.add_expectation_configuration(
            ExpectationConfiguration(type=expectation["type"], kwargs=expectation["kwargs"])
        )
    suite = context.suites.add(suite)
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=name, data=batch, suite=suite)
    )
    outcome = definition.run(result_format="SUMMARY")
    failures = [
        {
            "expectation": r.expectation_config.type,
            "column": r.expectation_config.kwargs.get("column"),
            "unexpected_count": r.result.get("unexpected_count"),
            "observed_value": _jsonable(r.result.get("observed_value")),
            "examples": _jsonable((r.result.get("partial_unexpected_list") or [])[:5]),
        }
        for r in outcome.results
        if not r.success
    ]
    stats = outcome.statistics
    return SuiteResult(
        suite=name,
        success=bool(outcome.success),
        evaluated=int(stats["evaluated_expectations"]),
        failed=int(stats["unsuccessful_expectations"]),
        failures=failures,
    )


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _record(pg: PostgresSettings, run_id: str, result: SuiteResult) -> None:
    with connect(pg) as conn:
        conn.execute(
            """
            insert into leadflow.quality_results
                (run_id, suite, success, evaluated, failed, details)
            values (%s, %s, %s, %s, %s, %s)
            on conflict (run_id, suite) do update
                set success = excluded.success, evaluated = excluded.evaluated,
                    failed = excluded.failed, details = excluded.details, checked_at = now()
            """,
            (
                run_id,
                result.suite,
                result.success,
                result.evaluated,
                result.failed,
                json.dumps(result.failures),
            ),
        )
