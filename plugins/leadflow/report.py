"""`leadflow report`: one self-contained HTML page about the funnel and the pipeline's health.

Everything is read from Postgres (the dbt marts and leadflow's own bookkeeping tables) and drawn
as inline SVG generated here, so the page needs no network, no CDN and no JavaScript: it can be
mailed, attached to a ticket or opened on an air-gapped laptop. A section whose tables do not
exist yet (a fresh warehouse, or a first run that failed before dbt) says so instead of failing
the whole page.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from leadflow.db import open_connection
from leadflow.errors import ConfigError
from leadflow.settings import PostgresSettings
from leadflow.stages import FUNNEL, STAGES

# The milestones past the funnel's entry stage: dim_leads has a reached_<stage> column each.
MILESTONES = FUNNEL[1:]
VELOCITY = [
    ("created → MQL", "days_created_to_mql"),
    ("MQL → SQL", "days_mql_to_sql"),
    ("SQL → opportunity", "days_sql_to_opportunity"),
    ("opportunity → customer", "days_opportunity_to_customer"),
]
BLUE, GREEN, RED, AMBER, GREY = "#2f6fb3", "#2e9e5b", "#c8423b", "#d99a1e", "#9aa4ae"
SLA_COLOURS = {"met": GREEN, "breached": RED, "pending": AMBER}


class Missing(Exception):
    """A relation the section needs does not exist yet."""


@dataclass
class Section:
    title: str
    intro: str
    body: list[str] = field(default_factory=list)


class _Db:
    """Autocommit queries: one missing mart must not abort the others' transaction."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self.conn.execute(sql, params).fetchall()  # type: ignore[arg-type]
        except psycopg.errors.UndefinedTable as exc:
            raise Missing(str(exc).splitlines()[0]) from exc


# -- SVG charts ----------------------------------------------------------------------------------


def _fmt(value: float, unit: str = "") -> str:
    if unit == "%":
        return f"{value:.1f}%"
    if float(value).is_integer():
        return f"{int(value):,}{unit}"
    return f"{value:,.1f}{unit}"


def hbar_chart(
    name: str,
    rows: Sequence[tuple[str, float, str]],
    *,
    unit: str = "",
    colour: str = BLUE,
    max_value: float | None = None,
) -> str:
    """Horizontal bars: (label, value, note) per row; the note is printed right of the bar."""
    if not rows:
        return _empty(name)
    label_w, bar_w, note_w, row_h = 170, 520, 200, 28
    top = max_value or max((v for _, v, _ in rows), default=0) or 1
    height = row_h * len(rows) + 10
    parts = []
    for i, (label, value, note) in enumerate(rows):
        y = 5 + i * row_h
        w = max(0.0, bar_w * float(value) / float(top))
        text = _fmt(float(value), unit) + (f"  {note}" if note else "")
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 18}" text-anchor="end">{html.escape(label)}</text>'
            f'<rect class="mark" x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}"'
            f' fill="{colour}"><title>{html.escape(label)}: {html.escape(text)}</title></rect>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 18}" class="value">{html.escape(text)}</text>'
        )
    return _svg(name, label_w + bar_w + note_w, height, "".join(parts))


def column_chart(
    name: str, rows: Sequence[tuple[str, float]], *, colour: str = BLUE, unit: str = ""
) -> str:
    """Vertical bars (a histogram when the labels are bins)."""
    if not rows:
        return _empty(name)
    width, height, bottom, left = 760, 260, 40, 40
    top = max(v for _, v in rows) or 1
    slot = (width - left - 10) / len(rows)
    parts = [
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}"'
        ' stroke="#555"/>'
    ]
    for i, (label, value) in enumerate(rows):
        h = (height - bottom - 25) * float(value) / float(top)
        x = left + i * slot + slot * 0.12
        y = height - bottom - h
        parts.append(
            f'<rect class="mark" x="{x:.1f}" y="{y:.1f}" width="{slot * 0.76:.1f}" height="{h:.1f}"'
            f' fill="{colour}"><title>{html.escape(label)}: {_fmt(float(value), unit)}</title>'
            f'</rect><text x="{x + slot * 0.38:.1f}" y="{y - 5:.1f}" text-anchor="middle"'
            f' class="value">{_fmt(float(value), unit)}</text>'
            f'<text x="{x + slot * 0.38:.1f}" y="{height - bottom + 16}" text-anchor="middle">'
            f"{html.escape(label)}</text>"
        )
    return _svg(name, width, height, "".join(parts))


def stacked_chart(
    name: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float]]],
) -> str:
    """Horizontal stacked bars: one bar per category, one segment per (name, colour, values)."""
    if not categories:
        return _empty(name)
    label_w, bar_w, row_h = 170, 560, 30
    totals = [sum(s[2][i] for s in series) for i in range(len(categories))]
    top = max(totals) or 1
    parts = []
    for i, category in enumerate(categories):
        y = 5 + i * row_h
        x = float(label_w)
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 19}" text-anchor="end">{html.escape(category)}</text>'
        )
        for series_name, colour, values in series:
            w = bar_w * float(values[i]) / top
            if w <= 0:
                continue
            tip = f"{category} {series_name}: {_fmt(float(values[i]))}"
            parts.append(
                f'<rect class="mark" x="{x:.1f}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}"'
                f' fill="{colour}"><title>{html.escape(tip)}</title></rect>'
            )
            if w > 24:
                parts.append(
                    f'<text x="{x + w / 2:.1f}" y="{y + 19}" text-anchor="middle" class="inbar">'
                    f"{_fmt(float(values[i]))}</text>"
                )
            x += w
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 19}" class="value">{totals[i]:,.0f}</text>')
    legend_y = 10 + len(categories) * row_h
    lx = label_w
    for series_name, colour, _ in series:
        parts.append(
            f'<rect x="{lx}" y="{legend_y}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{lx + 16}" y="{legend_y + 11}">{html.escape(series_name)}</text>'
        )
        lx += 30 + 8 * len(series_name)
    return _svg(name, label_w + bar_w + 80, legend_y + 20, "".join(parts))


def grouped_chart(
    name: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float]]],
    *,
    unit: str = "%",
) -> str:
    """Vertical grouped bars: per category one bar per series (e.g. conversion rates by band)."""
    if not categories:
        return _empty(name)
    width, height, bottom, left = 760, 280, 60, 40
    top = max((v for s in series for v in s[2]), default=0) or 1
    slot = (width - left - 10) / len(categories)
    bar = slot * 0.8 / len(series)
    parts = [
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}"'
        ' stroke="#555"/>'
    ]
    for i, category in enumerate(categories):
        x0 = left + i * slot + slot * 0.1
        for j, (series_name, colour, values) in enumerate(series):
            h = (height - bottom - 25) * float(values[i]) / float(top)
            x = x0 + j * bar
            y = height - bottom - h
            tip = f"{category} {series_name}: {_fmt(float(values[i]), unit)}"
            parts.append(
                f'<rect class="mark" x="{x:.1f}" y="{y:.1f}" width="{bar * 0.9:.1f}"'
                f' height="{h:.1f}" fill="{colour}"><title>{html.escape(tip)}</title></rect>'
                f'<text x="{x + bar * 0.45:.1f}" y="{y - 4:.1f}" text-anchor="middle"'
                f' class="small">{_fmt(float(values[i]), unit)}</text>'
            )
        parts.append(
            f'<text x="{x0 + slot * 0.4:.1f}" y="{height - bottom + 16}" text-anchor="middle">'
            f"{html.escape(category)}</text>"
        )
    lx = left
    for series_name, colour, _ in series:
        parts.append(
            f'<rect x="{lx}" y="{height - 22}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{lx + 16}" y="{height - 12}">{html.escape(series_name)}</text>'
        )
        lx += 40 + 8 * len(series_name)
    return _svg(name, width, height, "".join(parts))


def _svg(name: str, width: float, height: float, inner: str) -> str:
    return (
        f'<svg class="chart" data-chart="{name}" xmlns="http://www.w3.org/2000/svg"'
        f' width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}"'
        f' role="img">{inner}</svg>'
    )


def _empty(name: str) -> str:
    return f'<p class="empty" data-chart-empty="{name}">No data yet.</p>'


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    if not rows:
        return '<p class="empty">No rows.</p>'
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, datetime):
        return f"{value.astimezone(UTC):%Y-%m-%d %H:%M}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _pct(num: float | None, den: float | None) -> float:
    return 100.0 * float(num or 0) / float(den) if den else 0.0


# -- sections ------------------------------------------------------------------------------------


def _funnel(db: _Db) -> Section:
    s = Section(
        "Funnel by stage",
        "Leads that ever reached each stage (or a later one), with the conversion from the"
        " previous stage; below, where every lead is now.",
    )
    reached = ", ".join(f"count(*) filter (where reached_{st})" for st in MILESTONES)
    total, *counts = db.rows(f"select count(*), {reached} from marts.dim_leads")[0]
    rows: list[tuple[str, float, str]] = [("all contacts", total, "")]
    previous = total
    for stage, n in zip(MILESTONES, counts, strict=True):
        label = stage.upper() if len(stage) == 3 else stage
        rows.append((label, n, f"· {_pct(n, previous):.0f}% of the stage before"))
        previous = n
    s.body.append(hbar_chart("funnel", rows))
    now = dict(
        db.rows("select leadflow_stage, count(*) from marts.fct_lead_qualification group by 1")
    )
    s.body.append("<h3>Current stage</h3>")
    s.body.append(
        hbar_chart(
            "current_stage",
            [(st, now[st], f"{_pct(now[st], total):.0f}%") for st in STAGES if now.get(st)],
            colour=GREY,
        )
    )
    s.body.append(
        _breakdown(
            db,
            "By source",
            "source",
            "analytics_source",
            "rpt_funnel_by_source order by contacts desc",
        )
    )
    s.body.append(
        _breakdown(
            db,
            "By monthly cohort of creation",
            "cohort",
            "cohort_start",
            "rpt_funnel_by_cohort where cohort_grain = 'month' order by cohort_start desc",
        )
    )
    return s


def _breakdown(db: _Db, title: str, label: str, key: str, source: str) -> str:
    """One funnel table per breakdown mart; they share their conversion columns."""
    rows = db.rows(
        f"select {key}, contacts, reached_mql, reached_sql, reached_customer,"
        " round(100 * lead_to_mql_rate, 1), round(100 * mql_to_sql_rate, 1)"
        f" from marts.{source}"
    )
    headers = [label, "contacts", "MQL", "SQL", "customer", "lead→MQL %", "MQL→SQL %"]
    return f"<h3>{title}</h3>" + _table(headers, rows)


def _velocity(db: _Db) -> Section:
    s = Section(
        "Stage velocity",
        "Median days between stages (first time reached), and how long leads have been in the"
        " stage they are in now.",
    )
    medians = ", ".join(
        f"percentile_cont(0.5) within group (order by {col}), count({col})" for _, col in VELOCITY
    )
    values = db.rows(f"select {medians} from marts.dim_leads")[0]
    rows = []
    for i, (label, _) in enumerate(VELOCITY):
        median, n = values[2 * i], values[2 * i + 1]
        if n:
            rows.append((label, round(float(median), 1), f"days (n={n})"))
    s.body.append(hbar_chart("velocity", rows, colour=AMBER))
    in_stage = db.rows(
        "select leadflow_stage, percentile_cont(0.5) within group (order by days_in_current_stage)"
        " from marts.dim_leads group by 1"
    )
    order = {st: i for i, st in enumerate(STAGES)}
    s.body.append("<h3>Median days in the current stage</h3>")
    s.body.append(
        hbar_chart(
            "days_in_stage",
            [
                (st, round(float(d or 0), 1), "days")
                for st, d in sorted(in_stage, key=lambda r: order.get(r[0], 99))
            ],
            colour=GREY,
        )
    )
    return s


def _scores(db: _Db) -> Section:
    s = Section(
        "Scores",
        "Distribution of the combined score (0–100) and how each score band and fit grade"
        " converted: the numbers to look at when reviewing the scoring rules.",
    )
    hist = dict(
        db.rows(
            "select least(leadflow_score / 10, 9) as bin, count(*)"
            " from marts.fct_lead_qualification group by 1"
        )
    )
    bins = [(f"{b * 10}–{b * 10 + 9 if b < 9 else 100}", hist.get(b, 0)) for b in range(10)]
    s.body.append(column_chart("score_histogram", bins) if hist else _empty("score_histogram"))
    bands = db.rows(
        "select band_type, band, contacts, reached_mql, reached_sql, reached_opportunity,"
        " reached_customer from marts.rpt_conversion_by_score_band order by band_type, band"
    )
    for band_type, title in (("score_band", "by score band"), ("fit_grade", "by fit grade")):
        picked = [b for b in bands if b[0] == band_type]
        s.body.append(f"<h3>Conversion {title}</h3>")
        s.body.append(
            grouped_chart(
                f"conversion_{band_type}",
                [b[1] for b in picked],
                [
                    ("reached MQL", BLUE, [_pct(b[3], b[2]) for b in picked]),
                    ("reached SQL", GREEN, [_pct(b[4], b[2]) for b in picked]),
                    ("reached opportunity", AMBER, [_pct(b[5], b[2]) for b in picked]),
                ],
            )
        )
        s.body.append(
            _table(
                ["band", "contacts", "MQL", "SQL", "opportunity", "customer"],
                [b[1:] for b in picked],
            )
        )
    return s


def _sla(db: _Db) -> Section:
    s = Section(
        "SLA breaches",
        "Response-time SLAs: MQL → sales accepted, and SQL → first sales touch (the owner's"
        " first call, meeting or outgoing email after it).",
    )
    counts = db.rows("select sla_type, sla_status, count(*) from marts.fct_lead_sla group by 1, 2")
    types = sorted({r[0] for r in counts})
    by = {(t, st): n for t, st, n in counts}
    s.body.append(
        stacked_chart(
            "sla",
            types,
            [(st, SLA_COLOURS[st], [by.get((t, st), 0) for t in types]) for st in SLA_COLOURS],
        )
    )
    open_breaches = db.rows(
        "select f.contact_id, d.company_name, f.sla_type, f.started_at, f.sla_deadline_at,"
        " round(extract(epoch from (coalesce(f.responded_at, f.as_of) - f.sla_deadline_at))"
        " / 3600, 1)"
        " from marts.fct_lead_sla f left join marts.dim_leads d using (contact_id)"
        " where f.is_breached order by f.started_at desc limit 25"
    )
    s.body.append("<h3>Latest breaches</h3>")
    s.body.append(
        _table(
            ["contact", "company", "SLA", "clock started", "deadline", "hours late"],
            open_breaches,
        )
    )
    return s


def _runs(db: _Db, last_runs: int) -> Section:
    s = Section(
        "Pipeline runs and data quality",
        f"The last {last_runs} lead_sync runs: outcome, Great Expectations results per suite, and"
        " what was pushed. A failed blocking suite stops the push for that run.",
    )
    runs = db.rows(
        "select run_id, interval_start, interval_end, status,"
        " extract(epoch from finished_at - started_at), stats, error"
        " from leadflow.runs order by interval_end desc, started_at desc limit %s",
        (last_runs,),
    )
    checks = db.rows(
        "select run_id, suite, success, evaluated, failed from leadflow.quality_results"
        " where run_id = any(%s) order by suite",
        ([r[0] for r in runs],),
    )
    per_run: dict[str, list[tuple[str, bool, int, int]]] = {}
    for run_id, suite, success, evaluated, failed in checks:
        per_run.setdefault(run_id, []).append((suite, success, evaluated, failed))
    chronological = list(reversed(runs))
    labels = [f"{r[2]:%m-%d %H:%M}" for r in chronological]
    met = [sum(c[2] - c[3] for c in per_run.get(r[0], [])) for r in chronological]
    broken = [sum(c[3] for c in per_run.get(r[0], [])) for r in chronological]
    s.body.append(
        stacked_chart(
            "quality", labels, [("expectations met", GREEN, met), ("failed", RED, broken)]
        )
    )
    table = []
    for run_id, start, end, status, seconds, stats, error in runs:
        suites = "; ".join(
            f"{'✓' if ok else '✗'} {suite} {ev - bad}/{ev}"
            for suite, ok, ev, bad in per_run.get(run_id, [])
        )
        push = (stats or {}).get("push") or {}
        pushed = (
            "dry run"
            if push.get("dry_run")
            else (f"{push.get('pushed', 0)} ok, {push.get('failed', 0)} rejected" if push else "–")
        )
        table.append(
            [
                f"{start:%Y-%m-%d %H:%M} → {end:%H:%M}",
                status,
                f"{seconds:.0f} s" if seconds is not None else "–",
                suites or "–",
                pushed,
                (error or "")[:200],
            ]
        )
    s.body.append(
        _table(["interval (UTC)", "status", "took", "quality suites", "push", "error"], table)
    )
    try:
        raised = db.rows(
            "select raised_at, kind, title, rows_affected from leadflow.alerts"
            " order by raised_at desc limit 20"
        )
    except Missing:
        raised = []
    s.body.append("<h3>Latest alerts</h3>")
    s.body.append(_table(["raised", "kind", "title", "rows"], raised))
    return s


def _quarantine(db: _Db) -> Section:
    s = Section(
        "Quarantine",
        "Input records that failed validation on load, kept in leadflow.quarantine with the"
        " reason (never silently dropped).",
    )
    rows = db.rows(
        "select stream, reason, count(*), max(quarantined_at) from leadflow.quarantine"
        " group by 1, 2 order by 3 desc limit 30"
    )
    per_stream: dict[str, int] = {}
    for stream, _, n, _ in rows:
        per_stream[stream] = per_stream.get(stream, 0) + n
    s.body.append(
        hbar_chart("quarantine", [(k, v, "") for k, v in per_stream.items()], colour=RED)
        if per_stream
        else '<p class="ok" data-chart-empty="quarantine">Nothing quarantined.</p>'
    )
    s.body.append(_table(["stream", "reason", "records", "latest"], rows))
    return s


# -- page ----------------------------------------------------------------------------------------

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2329;
background:#f4f6f8}
header{background:#1d2b3a;color:#fff;padding:18px 32px}header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#c5d0db}main{padding:8px 32px 40px;max-width:1100px}
section{background:#fff;border-radius:8px;padding:16px 22px;margin:18px 0;
box-shadow:0 1px 3px rgba(0,0,0,.08)}
h2{margin:0 0 4px;font-size:18px}h3{font-size:15px;margin:18px 0 6px}
.intro{color:#56616c;margin:0 0 12px}svg.chart{display:block;max-width:100%;height:auto}
svg text{font-size:12px;fill:#1d2329}svg text.value{fill:#3d4751}svg text.small{font-size:10px}
svg text.inbar{fill:#fff;font-size:11px}
table{border-collapse:collapse;margin:6px 0;font-size:13px}
th,td{border-bottom:1px solid #e3e7eb;padding:4px 10px;text-align:left}th{background:#f0f3f6}
.empty{color:#8a949e;font-style:italic}.ok{color:#2e9e5b}
.missing{color:#a0561b}.kpis{display:flex;gap:14px;flex-wrap:wrap;margin:14px 0 0}
.kpi{background:#fff;color:#56616c;border-radius:8px;padding:10px 16px;
box-shadow:0 1px 3px rgba(0,0,0,.08)}
.kpi b{display:block;font-size:20px;color:#1d2329}
"""


def _kpis(db: _Db) -> str:
    items: list[tuple[str, str]] = []
    try:
        total, mql, sql = db.rows(
            "select count(*), count(*) filter (where reached_mql),"
            " count(*) filter (where reached_sql) from marts.dim_leads"
        )[0]
        items += [("leads", f"{total:,}"), ("reached MQL", f"{mql:,}"), ("reached SQL", f"{sql:,}")]
    except Missing:
        pass
    try:
        last = db.rows(
            "select status, interval_end from leadflow.runs order by interval_end desc,"
            " started_at desc limit 1"
        )
        if last:
            items.append(("last run", f"{last[0][0]} ({last[0][1]:%Y-%m-%d %H:%M} UTC)"))
    except Missing:
        pass
    try:
        (breached,) = db.rows("select count(*) from marts.fct_lead_sla where is_breached")[0]
        items.append(("SLA breaches", f"{breached:,}"))
    except Missing:
        pass
    cells = "".join(
        f'<div class="kpi">{html.escape(k)}<b>{html.escape(v)}</b></div>' for k, v in items
    )
    return f'<div class="kpis">{cells}</div>'


def render(pg: PostgresSettings, last_runs: int = 24, now: datetime | None = None) -> str:
    """The whole page as one HTML string."""
    now = now or datetime.now(UTC)
    builders: list[tuple[str, Callable[[_Db], Section]]] = [
        ("Funnel by stage", _funnel),
        ("Stage velocity", _velocity),
        ("Scores", _scores),
        ("SLA breaches", _sla),
        ("Pipeline runs and data quality", lambda db: _runs(db, last_runs)),
        ("Quarantine", _quarantine),
    ]
    conn = open_connection(pg)
    conn.autocommit = True
    try:
        db = _Db(conn)
        kpis = _kpis(db)
        sections = []
        for title, build in builders:
            try:
                sections.append(build(db))
            except Missing as exc:
                sections.append(
                    Section(
                        title,
                        "",
                        [
                            f'<p class="missing">Not built yet ({html.escape(str(exc))}): run'
                            " <code>leadflow run</code> first.</p>"
                        ],
                    )
                )
    finally:
        conn.close()
    body = "".join(
        f"<section><h2>{html.escape(s.title)}</h2><p class='intro'>{html.escape(s.intro)}</p>"
        + "".join(s.body)
        + "</section>"
        for s in sections
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>leadflow funnel report</title><style>{CSS}</style>"
        f"<meta name='generated' content='{now.isoformat()}'>"
        "</head><body><header><h1>leadflow funnel report</h1>"
        f"<p>Generated {now:%Y-%m-%d %H:%M} UTC from database “{html.escape(pg.dbname)}”.</p>"
        f"{kpis}</header><main>{body}</main></body></html>"
    )


def write_report(
    pg: PostgresSettings, output: Path, last_runs: int = 24, now: datetime | None = None
) -> Path:
    """Render the report into `output`; a path that cannot be written is a ConfigError."""
    page = render(pg, last_runs=last_runs, now=now)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot write the report to {output}: {exc.strerror or exc}; choose another -o"
        ) from exc
    return output
