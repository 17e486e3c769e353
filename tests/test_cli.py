"""The `leadflow` CLI as operators and scripts use it: the installed entry point in a
subprocess, real Postgres, the sandbox over HTTP, real Airflow runs; exit codes checked.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from leadflow import cli
from leadflow.settings import REPO_ROOT, PostgresSettings
from leadflow.sources.hubspot import STREAMS
from leadflow.sources.hubspot.sandbox import Portal, SandboxConfig, SandboxServer
from leadflow.sources.hubspot.sandbox.server import Response

from .conftest import TOKEN, connection_env

LEADFLOW = str(Path(sys.executable).with_name("leadflow"))
COMMANDS = ["demo", "run", "backfill", "plan", "report", "doctor", "sandbox", "dbt"]
HOUR = timedelta(hours=1)

# what a run's progress counts: begin, one extract per stream, the gates, dbt, the push, finish
TASKS = len(STREAMS) + 6


def leadflow(
    *args: str, env: dict[str, str | None] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the installed entry point; an env value of None removes that variable."""
    merged = {**os.environ, **(env or {})}
    return subprocess.run(
        [LEADFLOW, *args],
        env={k: v for k, v in merged.items() if v is not None},
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_clean_error(proc: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    """An expected failure: the exit code, one `leadflow: error:` line, no traceback."""
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    errors = [line for line in proc.stderr.splitlines() if line.startswith("leadflow")]
    assert len(errors) == 1, proc.stderr
    for word in words:
        assert word in errors[0], errors[0]


def test_entry_point_and_every_command_have_help() -> None:
    top = leadflow("--help")
    assert top.returncode == 0
    for command in COMMANDS:
        assert command in top.stdout
        proc = leadflow(command, "--help")
        assert proc.returncode == 0, proc.stderr
        assert f"usage: leadflow {command}" in proc.stdout
    assert set(cli.build_parser()._subparsers._group_actions[0].choices) == set(COMMANDS)  # noqa: SLF001


def test_usage_errors_exit_2() -> None:
    assert leadflow("no-such-command").returncode == 2
    off_hour = leadflow("backfill", "--start", "2026-11-23T08:30", "--end", "2026-11-23T10:00")
    assert off_hour.returncode == 2 and "not on the hour" in off_hour.stderr
    backwards = leadflow("backfill", "--start", "2026-11-23T10:00", "--end", "2026-11-23T08:00")
    assert_clean_error(backwards, 2, "must be after --start")


def test_sandbox_names_its_vendor_and_defaults_to_hubspot() -> None:
    parse = cli.build_parser().parse_args
    named = parse(["sandbox", "hubspot", "--tier", "starter", "--port", "0"])
    plain = parse(["sandbox", "--tier", "professional"])
    assert (named.source, named.tier, named.port) == ("hubspot", "starter", 0)
    assert (plain.source, plain.tier) == ("hubspot", "professional")


def test_hourly_intervals_cover_start_to_end_in_order() -> None:
    start = datetime(2026, 11, 23, 22, tzinfo=UTC)
    intervals = cli.hourly_intervals(start, start + 3 * HOUR)
    assert intervals == [(start + i * HOUR, start + (i + 1) * HOUR) for i in range(3)]
    assert cli.parse_hour("2026-11-23") == datetime(2026, 11, 23, tzinfo=UTC)
    assert cli.parse_hour("2026-11-23T12:00+02:00") == datetime(2026, 11, 23, 10, tzinfo=UTC)


def test_config_errors_exit_2_with_one_line(airflow_home: Path, pg: PostgresSettings) -> None:
    no_conn: dict[str, str | None] = {
        "AIRFLOW_CONN_LEADFLOW_POSTGRES": None,
        "AIRFLOW_CONN_HUBSPOT_DEFAULT": None,
    }
    assert_clean_error(leadflow("run", env=no_conn), 2, "leadflow_postgres", "is not defined")
    dead = connection_env(pg, "http://127.0.0.1:9", TOKEN, {"max_attempts": 1})
    assert_clean_error(leadflow("plan", env=dict(dead)), 2, "Cannot reach HubSpot")
    gone = PostgresSettings(host="/nonexistent", dbname="x")
    no_pg = dict(connection_env(gone, "http://x", TOKEN))
    assert_clean_error(leadflow("report", env=no_pg), 2, "Cannot connect")


def _conn(kind: str, **fields: object) -> str:
    return json.dumps({"conn_type": kind, **fields})


PG = _conn("postgres", host="/nonexistent")  # never reached: settings are checked first


@pytest.mark.parametrize(
    ("args", "env", "words"),
    [
        (
            ["report"],
            {
                "AIRFLOW_CONN_LEADFLOW_POSTGRES": _conn(
                    "postgres", host="db", extra={"statement_timeout_s": "abc"}
                )
            },
            ["statement_timeout_s", "'abc'", "an integer"],
        ),
        (
            ["plan"],
            {
                "AIRFLOW_CONN_LEADFLOW_POSTGRES": PG,
                "AIRFLOW_CONN_HUBSPOT_DEFAULT": _conn(
                    "http", host="http://x", password="t", extra={"rate_limit_per_10s": "abc"}
                ),
            },
            ["rate_limit_per_10s", "an integer"],
        ),
        (
            ["plan"],
            {
                "AIRFLOW_CONN_LEADFLOW_POSTGRES": PG,
                "AIRFLOW_CONN_HUBSPOT_DEFAULT": _conn(
                    "http", host="http://x", password="t", extra={"rate_limit_per_10s": 0}
                ),
            },
            ["rate_limit_per_10s", "at least 1"],
        ),
        (
            ["report"],
            {"AIRFLOW_CONN_LEADFLOW_POSTGRES": '{"conn_type": "postgres", "host": '},
            ["AIRFLOW_CONN_LEADFLOW_POSTGRES", "not valid"],
        ),
        (["report", "--runs", "-3"], {}, ["--runs", "at least 1"]),
        (["sandbox", "--port", "99999"], {}, ["--port", "65535"]),
        (["sandbox", "hubspot", "--port", "99999"], {}, ["--port", "65535"]),
        (["sandbox", "marketo"], {}, ["invalid choice", "salesforce"]),
        (["demo", "--contacts", "-5"], {}, ["--contacts", "at least 1"]),
        (["plan", "--limit", "-1"], {}, ["--limit", "at least 0"]),
    ],
)
def test_a_configuration_mistake_gets_one_clear_line_and_exit_2(
    args: list[str], env: dict[str, str], words: list[str]
) -> None:
    assert_clean_error(leadflow(*args, env=env), 2, *words)


def test_a_report_that_cannot_be_written_gets_one_clear_line(
    pg: PostgresSettings, tmp_path: Path
) -> None:
    env = dict(connection_env(pg, "http://x", TOKEN))
    for target in ("/proc/leadflow-report.html", str(tmp_path)):
        assert_clean_error(leadflow("report", "-o", target, env=env), 2, "cannot write", target)


def test_a_rejected_token_exits_2(sandbox: SandboxServer, pg: PostgresSettings) -> None:
    env = dict(connection_env(pg, sandbox.url, "wrong-token"))
    proc = leadflow("backfill", "--start", "2026-11-23", "--end", "2026-11-23T01:00", env=env)
    assert_clean_error(proc, 2, "rejected the access token")


def test_doctor_names_the_missing_scope_and_the_fix(
    sandbox: SandboxServer,
    connections: PostgresSettings,
    airflow_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    original = sandbox.app.handle

    def no_owner_scope(method, target, headers, raw):  # type: ignore[no-untyped-def]
        if target.startswith(("/crm/v3/owners", "/email/public/v1/")):
            return Response(
                403,
                {
                    "status": "error",
                    "category": "MISSING_SCOPES",
                    "message": "This app hasn't been granted all required scopes",
                },
            )
        return original(method, target, headers, raw)

    monkeypatch.setattr(sandbox.app, "handle", no_owner_scope)
    sandbox.config.tier = "professional"  # events v3 is Enterprise-only: a note, not a failure
    sandbox.portal.create_property(
        "contacts",
        {
            "name": "leadflow_score",
            "label": "x",
            "type": "string",
            "fieldType": "text",
            "groupName": "contactinformation",
        },
    )
    monkeypatch.setenv("AIRFLOW__LOGGING__LOGGING_LEVEL", "ERROR")
    assert cli.main(["doctor", "--skip-dbt"]) == 1
    out = capsys.readouterr().out
    assert "✓ Postgres version" in out
    assert "✓ token accepted" in out
    assert "✓ scope crm.objects.contacts.read" in out
    assert "✗ scope crm.objects.owners.read: GET /crm/v3/owners answered 403" in out
    assert "fix: add the scope 'crm.objects.owners.read' to the private app" in out
    assert (
        "! events v3: GET /events/v3/events answered HTTP 403 MISSING_SCOPES: the events"
        " stream is skipped, nothing fails" in out
    )
    assert "note: events v3 needs an Enterprise hub" in out
    assert "page views do not count; forms, marketing email and sales activity still do" in out
    # marketing email without the scope: a note too, saying what still counts
    assert (
        "! marketing email events: GET /email/public/v1/events answered HTTP 403 MISSING_SCOPES:"
        " the email_events stream is skipped, nothing fails" in out
    )
    assert "without it, opens, clicks and bounces count only from events v3" in out
    assert "✓ forms: GET /marketing/v3/forms" in out
    assert "✗ property leadflow_score: type string, leadflow writes number" in out
    assert "! property leadflow_stage: missing; the first push creates it" in out
    assert "✓ GX suite crm_outgoing_contacts" in out
    assert "✓ DAG lead_sync imports" in out
    assert "2 failed" in out


@pytest.fixture
def seeded_crm(
    pg: PostgresSettings, airflow_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[SandboxServer, datetime]]:
    """A synthetic portal as of the current hour, so `leadflow run` (which means now) sees it."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    portal = Portal.generate(seed=11, contacts=250, now=now)
    server = SandboxServer(portal, SandboxConfig(token=TOKEN), port=0).start()
    extra = {"rate_limit_per_10s": 1000, "search_rate_per_s": 100}
    for key, value in connection_env(pg, server.url, TOKEN, extra).items():
        monkeypatch.setenv(key, value)
    yield server, now
    server.stop()


def _runs(pg: PostgresSettings) -> list[tuple[datetime, datetime, str]]:
    with psycopg.connect(**pg.conninfo()) as conn:
        return conn.execute(
            "select interval_start, interval_end, status from leadflow.runs order by started_at"
        ).fetchall()


def test_backfill_plan_report_and_a_failing_run(
    seeded_crm: tuple[SandboxServer, datetime],
    pg: PostgresSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, now = seeded_crm
    start, end = now - 3 * HOUR, now - HOUR
    server.config.batch_failure_rate = 0.2  # the CRM rejects some rows: backfill says so
    proc = leadflow("backfill", "--start", start.isoformat(), "--end", end.isoformat())
    server.config.batch_failure_rate = 0.0
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert "backfill done: 2 interval(s) succeeded; pushed " in proc.stdout
    first, last = [line for line in proc.stdout.splitlines() if line.startswith("  ✓")]
    rejected = [int(line.split("rejected ")[1].split()[0]) for line in (first, last)]
    assert rejected[0] > 0 and "(retried next run)" in first, first
    assert (
        f"[{TASKS}/{TASKS}] finish ok" in proc.stderr
    )  # progress, one line per task off a terminal
    assert "extract[contacts] ok" in proc.stderr
    assert _runs(pg) == [(start, start + HOUR, "success"), (start + HOUR, end, "success")]

    plan = leadflow("plan")  # what the CRM rejected last is still to send
    assert plan.returncode == 0, plan.stderr
    assert f"{rejected[1]} changed contacts" in plan.stdout and "nothing was sent" in plan.stdout

    report = leadflow("report", "-o", str(tmp_path / "r.html"))
    assert report.returncode == 0, report.stderr
    assert "<svg" in (tmp_path / "r.html").read_text()

    # A failed blocking gate (raw, so the run stops before dbt): exit 1, the failed suite and
    # the runbook pointer on stdout, nothing pushed.
    strict = tmp_path / "expectations"
    shutil.copytree(REPO_ROOT / "expectations", strict)
    suite = json.loads((strict / "raw_hubspot_contacts.json").read_text())
    suite["expectations"].append(
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 10**9}}
    )
    (strict / "raw_hubspot_contacts.json").write_text(json.dumps(suite))
    sent = len(server.portal.request_log)
    failed = leadflow("run", env={"LEADFLOW_EXPECTATIONS_DIR": str(strict)})
    assert failed.returncode == 1, failed.stdout + failed.stderr[-3000:]
    assert "lead_sync for " in failed.stdout
    assert "✗ raw_hubspot_contacts: 1 expectation(s) failed" in failed.stdout
    assert "error: failed tasks:" in failed.stdout and "validate_raw" in failed.stdout
    assert "docs/runbook.md" in failed.stdout
    assert "validate_raw failed" in failed.stderr
    assert "validate_raw: Quality gate 'raw_hubspot_contacts' failed" in failed.stdout
    assert "Traceback" not in failed.stdout + failed.stderr
    last_start, last_end, status = _runs(pg)[-1]
    assert status == "failed" and last_end - last_start == HOUR and last_end >= now
    pushes = [r for r in server.portal.request_log[sent:] if r[1].endswith("/batch/update")]
    assert pushes == []


def test_a_dry_run_after_a_rules_change_prints_what_would_change(
    seeded_crm: tuple[SandboxServer, datetime], pg: PostgresSettings, tmp_path: Path
) -> None:
    """The rules change (fit counts for more of the score): `leadflow run --dry-run` sends
    nothing and says how many contacts the push would change."""
    server, now = seeded_crm
    done = leadflow(
        "backfill", "--start", (now - 2 * HOUR).isoformat(), "--end", (now - HOUR).isoformat()
    )
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    project = tmp_path / "dbt_project"
    shutil.copytree(REPO_ROOT / "dbt_project", project, ignore=shutil.ignore_patterns("target"))
    settings = project / "seeds" / "scoring_settings.csv"
    text = settings.read_text()
    text = text.replace("fit_weight,0.5,", "fit_weight,0.8,").replace(
        "engagement_weight,0.5,", "engagement_weight,0.2,"
    )
    settings.write_text(text)
    sent = len(server.portal.request_log)
    dry = leadflow("run", "--dry-run", env={"LEADFLOW_DBT_PROJECT_DIR": str(project)})
    assert dry.returncode == 0, dry.stdout + dry.stderr[-3000:]
    (line,) = [x for x in dry.stdout.splitlines() if x.startswith("dry run:")]
    would = int(line.split()[2])
    assert would > 0 and "nothing was sent" in line, line
    writes = [p for _, p, _ in server.portal.request_log[sent:] if "/batch/update" in p]
    assert writes == []
