"""Alerts to ops: Slack webhook and e-mail through Airflow's notifiers, recorded in Postgres.

Every alert is written to `leadflow.alerts` first and then sent, so the record survives a
Slack or SMTP outage and a SIGKILL (callbacks do not run then). Sending is best-effort: an
alert that cannot be delivered is logged and its channel outcome stored, but it never raises,
so it can never mask the failure it reports. A channel whose Airflow connection does not exist
is skipped (logged once per process): alerts are opt-in per deployment.

Connections: `leadflow_slack` (Slack incoming webhook: the webhook URL, or host + token path,
in the password) and `leadflow_smtp` (SMTP; extra `from_email` and `to`, comma-separated).
"""

from __future__ import annotations

import html
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leadflow.db import connect
from leadflow.settings import AlertSettings, Connections, PostgresSettings, read
from leadflow.stats import PushStats

log = logging.getLogger(__name__)


_missing_logged: set[str] = set()


@dataclass
class Alert:
    """One thing ops must know: what failed, how many rows, where to look."""

    kind: str
    run_id: str | None
    title: str
    rows: int | None = None
    where: list[str] = field(default_factory=list)
    details: str = ""

    def text(self) -> str:
        lines = [f"[leadflow] {self.title}"]
        if self.run_id:
            lines.append(f"Run: {self.run_id}")
        if self.rows is not None:
            lines.append(f"Rows: {self.rows}")
        if self.where:
            lines.append("Where to look: " + "; ".join(self.where))
        if self.details:
            lines.append(self.details)
        return "\n".join(lines)

    def html(self) -> str:
        return f"<pre>{html.escape(self.text())}</pre>"


def send(alert: Alert, pg: PostgresSettings | None = None) -> dict[str, str]:
    """Record the alert, then deliver it on every configured channel; never raises."""
    alert_id = _record(pg, alert) if pg is not None else None
    conns = read(Connections)
    channels = {
        "slack": _deliver(conns.slack, _slack, alert),
        "email": _deliver(conns.smtp, _email, alert),
    }
    log.warning("alert %s (%s): %s", alert.kind, channels, alert.title)
    if alert_id is not None and pg is not None:
        try:
            with connect(pg) as conn:
                conn.execute(
                    "update leadflow.alerts set channels = %s where id = %s",
                    (json.dumps(channels), alert_id),
                )
        except Exception:
            log.exception("could not store the delivery outcome of alert %s", alert_id)
    return channels


def already_raised(pg: PostgresSettings, run_id: str) -> list[str]:
    """Kinds of alert already raised for a run (so a run-failed alert does not repeat them)."""
    try:
        with connect(pg) as conn:
            rows = conn.execute(
                "select distinct kind from leadflow.alerts where run_id = %s", (run_id,)
            ).fetchall()
        return [r[0] for r in rows]
    except Exception:
        log.exception("could not read leadflow.alerts")
        return []


def _record(pg: PostgresSettings, alert: Alert) -> int | None:
    try:
        with connect(pg) as conn:
            row = conn.execute(
                """
                insert into leadflow.alerts (run_id, kind, title, rows_affected, body)
                values (%s, %s, %s, %s, %s) returning id
                """,
                (alert.run_id, alert.kind, alert.title, alert.rows, alert.text()),
            ).fetchone()
        return int(row[0]) if row else None
    except Exception:
        log.exception("could not record alert %s in leadflow.alerts", alert.kind)
        return None


def _deliver(conn_id: str, sender: Any, alert: Alert) -> str:
    conn = _connection(conn_id)
    if conn is None:
        return "not configured"
    try:
        sender(conn, alert)
        return "sent"
    except Exception as exc:  # best-effort: report, never mask the original failure
        log.warning("alert %s not delivered via %s: %s", alert.kind, conn_id, exc)
        return f"failed: {type(exc).__name__}: {str(exc)[:200]}"


def _connection(conn_id: str) -> Any:
    try:
        from airflow.sdk import BaseHook

        return BaseHook.get_connection(conn_id)
    except Exception:
        if conn_id not in _missing_logged:
            _missing_logged.add(conn_id)
            log.info("no Airflow connection '%s': alerts on that channel are off", conn_id)
        return None


def _slack(conn: Any, alert: Alert) -> None:
    from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

    notifier = SlackWebhookNotifier(
        slack_webhook_conn_id=conn.conn_id, text=alert.text(), timeout=10
    )
    notifier.notify({})  # text is final: no Jinja rendering of data-derived content


def _email(conn: Any, alert: Alert) -> None:
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    extra = conn.extra_dejson
    to = extra.get("to") or read(AlertSettings).email_to
    if not to:
        raise ValueError(f"connection '{conn.conn_id}' has no 'to' in its extra")
    notifier = SmtpNotifier(
        to=to,
        from_email=extra.get("from_email") or "leadflow@localhost",
        subject=f"[leadflow] {alert.title}",
        html_content=alert.html(),
        smtp_conn_id=conn.conn_id,
    )
    notifier.notify({})


# -- the alerts leadflow raises ----------------------------------------------------------------


def gate_failed(run_id: str, exc: Exception) -> Alert:
    suite = getattr(exc, "suite", "") or "quality gate"
    where = getattr(exc, "where", "")
    kind = "volume_breaker" if suite == "volume_circuit_breaker" else "gate_failed"
    title = getattr(exc, "title", "") or (
        "volume circuit breaker tripped: push blocked, nothing sent"
        if kind == "volume_breaker"
        else f"quality gate failed: {suite}; push blocked, nothing sent"
    )
    return Alert(
        kind=kind,
        run_id=run_id,
        title=title,
        rows=getattr(exc, "bad_rows", None),
        where=[where] if where else [],
        details=str(exc),
    )


def push_rejected(run_id: str, stats: PushStats) -> Alert:
    sample = "\n".join(
        f"  contact {cid}: {err}" for cid, err in list(stats.sample_errors.items())[:5]
    )
    return Alert(
        kind="push_rejected",
        run_id=run_id,
        title=f"CRM rejected {stats.failed} of {stats.changed} contacts; "
        "they are retried every run until they land",
        rows=stats.failed,
        where=[f"leadflow.push_log where run_id = '{run_id}' and status = 'error'"],
        details=f"Sample errors:\n{sample}" if sample else "",
    )


def schema_drift(
    run_id: str, stream: str, changes: dict[str, Any], read: list[str], load_id: str
) -> Alert | None:
    """Properties the models read were removed from the CRM, or changed type; None if not."""
    removed = [n for n in changes.get("removed", ()) if n in read]
    retyped = [(n, old, new) for n, old, new in changes.get("retyped", ()) if n in read]
    if not removed and not retyped:
        return None
    lines = [
        *(
            f"{stream}.{name} was deleted in the CRM: it now counts for no record (as in a "
            "fresh load); restore it, or change the rules that read it"
            for name in removed
        ),
        *(
            f"{stream}.{name} changed type in the CRM: {old} -> {new}; check the models "
            "that read it"
            for name, old, new in retyped
        ),
    ]
    others = len(changes.get("added", ())) + len(changes.get("removed", ())) - len(removed)
    if others:
        lines.append(
            f"{others} other properties were added or removed (the models do not read them)"
        )
    return Alert(
        kind="schema_drift",
        run_id=run_id,
        title=f"the CRM's {stream} properties changed under the models: "
        + ", ".join([*removed, *(n for n, _, _ in retyped)]),
        rows=len(removed) + len(retyped),
        where=[f"leadflow.source_schema_changes where load_id = '{load_id}'"],
        details="\n".join(lines),
    )


def crm_drift(run_id: str, stats: PushStats) -> Alert:
    """leadflow's values were cleared or changed in the CRM (or a property re-created)."""
    recreated = stats.recreated_properties
    details = (
        f"Properties deleted and created again in the CRM: {', '.join(recreated)}."
        if recreated
        else "Someone cleared or edited leadflow's fields on these contacts in the CRM."
    )
    return Alert(
        kind="crm_drift",
        run_id=run_id,
        title=f"the CRM had lost leadflow's values on {stats.restored} contacts; "
        "they were pushed again",
        rows=stats.restored,
        where=[
            "leadflow.crm_drift_checks",
            f"leadflow.push_log where run_id = '{run_id}' and note like '%restore%'",
        ],
        details=details,
    )


def push_failed(run_id: str, error: BaseException | str | None) -> Alert:
    return Alert(
        kind="push_failed",
        run_id=run_id,
        title="push to the CRM failed; unsent rows are resent next run",
        where=[
            f"leadflow.push_log where run_id = '{run_id}'",
            "leadflow.push_inflight (batches sent but unconfirmed)",
            "the push_to_crm task log",
        ],
        details=f"Error: {error}" if error else "",
    )


def quarantine_growth(
    pg: PostgresSettings, run_id: str, since: datetime, threshold: int = 1
) -> Alert | None:
    """New quarantined rows since the run started, per stream; None below the threshold."""
    with connect(pg) as conn:
        rows = conn.execute(
            """
            select stream, count(*), min(reason) from leadflow.quarantine
            where quarantined_at >= %s group by stream order by stream
            """,
            (since,),
        ).fetchall()
    total = sum(int(n) for _, n, _ in rows)
    if total < threshold:
        return None
    per_stream = ", ".join(f"{s}: {n} (e.g. {reason})" for s, n, reason in rows)
    return Alert(
        kind="quarantine_growth",
        run_id=run_id,
        title=f"{total} input records quarantined in this run",
        rows=total,
        where=[f"leadflow.quarantine where quarantined_at >= '{since.isoformat()}'"],
        details=f"Per stream: {per_stream}",
    )


def sla_breaches(
    pg: PostgresSettings, run_id: str, interval_start: datetime, interval_end: datetime
) -> Alert | None:
    """SLAs whose deadline passed unmet in this run's interval (from marts.fct_lead_sla)."""
    with connect(pg) as conn:
        (exists,) = conn.execute("select to_regclass('marts.fct_lead_sla') is not null").fetchone()
        if not exists:
            return None
        rows = conn.execute(
            """
            select sla_type, count(*) from marts.fct_lead_sla
            where sla_status = 'breached'
              and sla_deadline_at > %s and sla_deadline_at <= %s
            group by sla_type order by sla_type
            """,
            (interval_start, interval_end),
        ).fetchall()
        (open_total,) = conn.execute(
            "select count(*) from marts.fct_lead_sla where sla_status = 'breached'"
        ).fetchone()
    total = sum(int(n) for _, n in rows)
    if not total:
        return None
    per_type = ", ".join(f"{t}: {n}" for t, n in rows)
    return Alert(
        kind="sla_breach",
        run_id=run_id,
        title=f"{total} lead response SLAs breached in this interval",
        rows=total,
        where=[
            "marts.fct_lead_sla where sla_status = 'breached' and sla_deadline_at > "
            f"'{interval_start.isoformat()}'"
        ],
        details=f"By SLA: {per_type}. Breached in total: {open_total}.",
    )


def on_task_failure(context: dict[str, Any]) -> None:
    """Airflow on_failure_callback (final failure only, not retries): alert and record."""
    try:
        from leadflow.settings import postgres_settings

        ti = context.get("ti") or context.get("task_instance")
        run_id = context.get("run_id") or getattr(ti, "run_id", None)
        task_id = getattr(ti, "task_id", "task")
        alert = push_failed(run_id, context.get("exception"))
        if task_id != "push_to_crm":
            alert.kind, alert.title = "task_failed", f"task {task_id} failed"
        pg = None
        try:
            pg = postgres_settings()
        except Exception:
            log.exception("alert without a Postgres record")
        send(alert, pg)
    except Exception:
        log.exception("failure callback could not raise its alert")
