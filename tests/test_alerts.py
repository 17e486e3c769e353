"""Alerts reach real local endpoints (an SMTP server and a Slack-webhook receiver on loopback)
through Airflow's notifiers, say what failed, how many rows and where to look, and are recorded
in Postgres whether or not they could be delivered.
"""

from __future__ import annotations

import email
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from leadflow import alerts
from leadflow.db import connect, ensure_schema
from leadflow.quality import QualityGateFailed
from leadflow.settings import PostgresSettings
from leadflow.stats import PushStats

from .conftest import NOW


@dataclass
class AlertInbox:
    """What ops would have received: Slack webhook posts and e-mails (subject, body)."""

    slack: list[dict[str, Any]] = field(default_factory=list)
    emails: list[tuple[str, str]] = field(default_factory=list)

    def wait(self, slack: int = 1, emails: int = 1, timeout: float = 10.0) -> None:
        import time

        deadline = time.monotonic() + timeout
        while len(self.slack) < slack or len(self.emails) < emails:
            assert time.monotonic() < deadline, f"alerts not received: {self}"
            time.sleep(0.05)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def alert_inbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[AlertInbox]:
    """A loopback SMTP server and HTTP receiver, wired up as leadflow's alert connections."""
    from aiosmtpd.controller import Controller

    inbox = AlertInbox()

    class Webhook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            inbox.slack.append({"path": self.path, **json.loads(body)})
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    class Mailbox:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            msg = email.message_from_bytes(envelope.content, policy=default_policy)
            parts = [
                p.get_payload(decode=True).decode()
                for p in msg.walk()
                if p.get_content_type() == "text/html"
            ]
            inbox.emails.append((str(msg["Subject"]), "\n".join(parts)))
            return "250 OK"

    http = ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
    threading.Thread(target=http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    smtp = Controller(Mailbox(), hostname="127.0.0.1", port=_free_port())
    smtp.start()
    monkeypatch.setenv(
        "AIRFLOW_CONN_LEADFLOW_SLACK",
        json.dumps(
            {
                "conn_type": "slackwebhook",
                "password": f"http://127.0.0.1:{http.server_address[1]}/services/T0/B0/xyz",
            }
        ),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_LEADFLOW_SMTP",
        json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": smtp.port,
                "extra": {
                    "disable_tls": True,
                    "disable_ssl": True,
                    "from_email": "leadflow@example.com",
                    "to": "ops@example.com",
                    "timeout": 5,
                    "retry_limit": 0,
                },
            }
        ),
    )
    yield inbox
    smtp.stop()
    http.shutdown()
    http.server_close()


@pytest.fixture
def schema(pg: PostgresSettings) -> PostgresSettings:
    ensure_schema(pg)
    return pg


def _stored(pg: PostgresSettings) -> list[tuple[Any, ...]]:
    with connect(pg) as conn:
        return conn.execute(
            "select kind, run_id, rows_affected, channels from leadflow.alerts order by id"
        ).fetchall()


def test_a_gate_alert_reaches_slack_and_email_with_what_rows_and_where(
    alert_inbox: AlertInbox, schema: PostgresSettings
) -> None:
    exc = QualityGateFailed(
        "Quality gate 'crm_outgoing_contacts' failed: 2 of 16 expectations failed",
        suite="crm_outgoing_contacts",
        bad_rows=7,
        where="marts.crm_outgoing_contacts and leadflow.quality_results where run_id = 'r1'",
    )
    channels = alerts.send(alerts.gate_failed("r1", exc), schema)
    assert channels == {"slack": "sent", "email": "sent"}
    alert_inbox.wait()
    text = alert_inbox.slack[0]["text"]
    assert alert_inbox.slack[0]["path"] == "/services/T0/B0/xyz"
    for needle in ("quality gate failed: crm_outgoing_contacts", "Run: r1", "Rows: 7"):
        assert needle in text
    assert "Where to look: marts.crm_outgoing_contacts and leadflow.quality_results" in text
    subject, body = alert_inbox.emails[0]
    assert (
        subject
        == "[leadflow] quality gate failed: crm_outgoing_contacts; push blocked, nothing sent"
    )
    assert "Rows: 7" in body and "leadflow.quality_results" in body
    assert _stored(schema) == [("gate_failed", "r1", 7, {"slack": "sent", "email": "sent"})]


def test_alerts_are_best_effort_and_recorded_even_when_undeliverable(
    schema: PostgresSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = _free_port()  # nothing listens here
    monkeypatch.setenv(
        "AIRFLOW_CONN_LEADFLOW_SLACK",
        json.dumps({"conn_type": "slackwebhook", "password": f"http://127.0.0.1:{dead}/x"}),
    )
    monkeypatch.delenv("AIRFLOW_CONN_LEADFLOW_SMTP", raising=False)
    stats = PushStats(failed=3, changed=10, sample_errors={"42": "VALIDATION_ERROR: bad"})
    channels = alerts.send(alerts.push_rejected("r2", stats), schema)
    assert channels["slack"].startswith("failed:")
    assert channels["email"] == "not configured"
    ((kind, run_id, rows, stored),) = _stored(schema)
    assert (kind, run_id, rows) == ("push_rejected", "r2", 3)
    assert stored == channels


def test_push_failure_callback_alerts_with_the_error(
    alert_inbox: AlertInbox, connections: PostgresSettings
) -> None:
    ensure_schema(connections)

    class TI:
        task_id, run_id = "push_to_crm", "r3"

    alerts.on_task_failure({"ti": TI(), "run_id": "r3", "exception": RuntimeError("HTTP 503")})
    alert_inbox.wait()
    text = alert_inbox.slack[0]["text"]
    assert "push to the CRM failed" in text and "HTTP 503" in text
    assert "leadflow.push_log where run_id = 'r3'" in text
    assert _stored(connections)[0][:2] == ("push_failed", "r3")


def test_quarantine_growth_and_sla_breaches_are_counted_for_the_run(
    alert_inbox: AlertInbox, schema: PostgresSettings
) -> None:
    start, end = NOW - timedelta(hours=1), NOW
    with connect(schema) as conn:
        conn.execute(
            "insert into leadflow.quarantine (stream, load_id, reason, payload, quarantined_at)"
            " values ('contacts', 'l', 'bad email', 'a', now()),"
            " ('contacts', 'l', 'bad email', 'b', now()),"
            " ('events', 'l', 'no object', 'c', now()),"
            " ('events', 'old', 'no object', 'd', now() - interval '2 days')"
        )
        conn.execute(
            """
            create schema marts;
            create table marts.fct_lead_sla (
                contact_id bigint, sla_type text, sla_deadline_at timestamptz, sla_status text
            )
            """
        )
        conn.execute(
            "insert into marts.fct_lead_sla values"
            " (1, 'mql_to_sal', %(mid)s, 'breached'), (2, 'sql_first_touch', %(mid)s, 'breached'),"
            " (3, 'mql_to_sal', %(old)s, 'breached'), (4, 'mql_to_sal', %(mid)s, 'met')",
            {"mid": NOW - timedelta(minutes=30), "old": NOW - timedelta(days=3)},
        )
    from datetime import UTC, datetime

    quarantine = alerts.quarantine_growth(schema, "r4", datetime.now(UTC) - timedelta(minutes=5))
    sla = alerts.sla_breaches(schema, "r4", start, end)
    assert quarantine is not None and sla is not None
    assert quarantine.rows == 3 and "contacts: 2 (e.g. bad email)" in quarantine.details
    assert sla.rows == 2 and "mql_to_sal: 1, sql_first_touch: 1" in sla.details
    assert "Breached in total: 3" in sla.details
    for alert in (quarantine, sla):
        alerts.send(alert, schema)
    alert_inbox.wait(slack=2, emails=2)
    subjects = [s for s, _ in alert_inbox.emails]
    assert "[leadflow] 3 input records quarantined in this run" in subjects
    assert "[leadflow] 2 lead response SLAs breached in this interval" in subjects
    assert "marts.fct_lead_sla" in alert_inbox.slack[1]["text"]
    assert alerts.sla_breaches(schema, "r5", end, end + timedelta(hours=1)) is None
