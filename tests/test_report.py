"""The funnel report, end to end: `leadflow demo --report` (embedded Postgres, seeded sandbox,
a real lead_sync run through Airflow) writes the page, and headless Chromium draws it.

Chromium comes from Debian's `chromium` package (`apt-get install -y chromium`); `.ci/run`
installs it. Without it the test fails on CI and skips, saying why, elsewhere.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from leadflow.local import stop_embedded_postgres

LEADFLOW = str(Path(sys.executable).with_name("leadflow"))
CHARTS = [
    "funnel",
    "current_stage",
    "velocity",
    "days_in_stage",
    "score_histogram",
    "conversion_score_band",
    "conversion_fit_grade",
    "sla",
    "quality",
]
# Injected into a copy of the page only: the report itself carries no JavaScript.
PROBE = """<script>
window.addEventListener('load', () => {
  const out = {};
  for (const svg of document.querySelectorAll('svg.chart')) {
    const box = svg.getBoundingClientRect();
    const marks = [...svg.querySelectorAll('.mark')].filter(m => {
      const b = m.getBBox(); return b.width > 0 && b.height > 0; }).length;
    out[svg.dataset.chart] = {width: box.width, height: box.height, marks: marks};
  }
  const pre = document.createElement('pre'); pre.id = 'chart-check';
  pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
});
</script>"""


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    reason = "headless Chromium is needed: apt-get update && apt-get install -y chromium"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI must render the report: {reason}")
    pytest.skip(reason)


def _headless(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def report_page(tmp_path_factory: pytest.TempPathFactory, airflow_home: Path) -> Iterator[Path]:
    """`leadflow demo --report`, once; the session's migrated Airflow database is copied in
    so the demo does not pay `airflow db migrate` again. The demo leaves its Postgres running
    (for `leadflow report` afterwards); the fixture stops it."""
    work = tmp_path_factory.mktemp("report")
    state = work / "state"
    (state / "airflow").mkdir(parents=True)
    shutil.copy(airflow_home / "airflow.db", state / "airflow" / "airflow.db")
    page = work / "report.html"
    proc = subprocess.run(
        [LEADFLOW, "demo", "--contacts", "300", "--seed", "7", "--report", str(page)],
        env={**os.environ, "LEADFLOW_STATE_DIR": str(state)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    try:
        assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
        assert "pushed to CRM: 300 contacts" in proc.stdout
        assert f"report: {page}" in proc.stdout
        yield page
    finally:
        if (state / "pgdata" / "postmaster.pid").exists():
            stop_embedded_postgres(state / "pgdata")


def test_report_is_self_contained(report_page: Path) -> None:
    html = report_page.read_text()
    assert "<script" not in html and "<link" not in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    for name in CHARTS:
        assert f'data-chart="{name}"' in html, name
    for heading in (
        "Funnel by stage",
        "Stage velocity",
        "Scores",
        "SLA breaches",
        "Pipeline runs and data quality",
        "Quarantine",
    ):
        assert f"<h2>{heading}</h2>" in html
    assert "Not built yet" not in html
    assert "✓ crm_outgoing_contacts" in html  # the run's quality results are listed


def test_chromium_draws_every_chart(report_page: Path, tmp_path: Path) -> None:
    chromium = _chromium()
    probed = tmp_path / "probed.html"
    probed.write_text(report_page.read_text().replace("</body>", PROBE + "</body>"))
    dom = _headless(
        chromium, tmp_path / "p1", "--dump-dom", "--virtual-time-budget=3000", probed.as_uri()
    )
    found = re.search(r'<pre id="chart-check">(.*?)</pre>', dom.stdout, re.S)
    assert found, dom.stdout[-2000:] + dom.stderr[-2000:]
    boxes = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    for name in CHARTS:
        box = boxes[name]
        assert box["width"] > 300 and box["height"] > 40, (name, box)
        assert box["marks"] > 0, (name, box)
    assert boxes["funnel"]["marks"] >= 6  # all contacts + the funnel stages reached
    assert boxes["score_histogram"]["marks"] >= 3

    shot = tmp_path / "report.png"
    _headless(
        chromium,
        tmp_path / "p2",
        f"--screenshot={shot}",
        "--window-size=1280,2000",
        report_page.as_uri(),
    )
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 2000)
    assert len(data) > 60_000  # a blank or error page compresses to a few KB
    keep = os.environ.get("LEADFLOW_REPORT_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)


def test_the_analytics_engineers_commands_work_after_the_demo(report_page: Path) -> None:
    """dbt_project/README.md's commands, as typed after `make demo`: no connection configured,
    so `leadflow dbt` takes the demo's database and its last run's as_of."""
    env = {**os.environ, "LEADFLOW_STATE_DIR": str(report_page.parent / "state")}
    env = {k: v for k, v in env.items() if not k.startswith("AIRFLOW_CONN_")}
    for command, done in (
        (["test", "--select", "crm_outgoing_contacts"], "ERROR=0"),
        (["build", "--select", "int_lead_stages_assigned+"], "ERROR=0"),
        (["docs", "generate"], "Catalog written"),
        (["source", "freshness"], "PASS freshness of hubspot.hubspot_contacts"),
    ):
        proc = subprocess.run(
            [LEADFLOW, "dbt", *command], env=env, capture_output=True, text=True, timeout=600
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "the demo's embedded Postgres" in proc.stderr
        assert done in proc.stdout, proc.stdout[-3000:]
