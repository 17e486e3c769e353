"""The dbt model on a real Postgres: deterministic for the same inputs, and a scoring-rule edit
(a seed change an analytics engineer makes) rescores every lead on the next build; the unit tests
of the models pass, and the pipeline's own builds leave them out."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from leadflow.db import connect, ensure_schema, open_connection
from leadflow.settings import REPO_ROOT
from leadflow.sources.hubspot.raw import (
    load_events,
    load_objects,
    record_merges,
    replace_associations,
)
from leadflow.transform import dbt_build, run_results_file

AS_OF = datetime(2026, 11, 23, 10, tzinfo=UTC)
OUTGOING = "select * from marts.crm_outgoing_contacts order by contact_id"


def _contact(cid: int, email: str, title: str) -> dict:
    return {
        "id": str(cid),
        "properties": {
            "email": email,
            "jobtitle": title,
            "country": "United States",
            "lifecyclestage": "lead",
        },
        "createdAt": "2026-09-01T10:00:00.000Z",
        "updatedAt": "2026-11-01T10:00:00.000Z",
        "archived": False,
    }


def _event(
    eid: str, cid: int, kind: str, when: datetime | str, properties: dict | None = None
) -> dict:
    occurred = when.isoformat() if isinstance(when, datetime) else when
    return {
        "id": eid,
        "objectType": "CONTACT",
        "objectId": str(cid),
        "eventType": kind,
        "occurredAt": occurred,
        "properties": properties or {},
    }


def _form(eid: str, cid: int, title: str, when: datetime | str) -> dict:
    return _event(eid, cid, "e_submitted_form", when, {"hs_form_title": title})


def _meeting(mid: int, when: datetime, outcome: str, updated: datetime) -> dict:
    return {
        "id": str(mid),
        "properties": {"hs_timestamp": when.isoformat(), "hs_meeting_outcome": outcome},
        "createdAt": when.isoformat(),
        "updatedAt": updated.isoformat(),
        "archived": False,
    }


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the dbt project, so the test can edit its rules."""
    copy = tmp_path / "dbt_project"
    shutil.copytree(
        REPO_ROOT / "dbt_project",
        copy,
        ignore=shutil.ignore_patterns("target", "logs", ".user.yml"),
    )
    monkeypatch.setenv("LEADFLOW_DBT_PROJECT_DIR", str(copy))
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    return copy


def test_same_inputs_same_rows_and_a_rule_edit_rescores(pg, project: Path) -> None:
    ensure_schema(pg)
    with open_connection(pg) as conn, conn.transaction():
        load_objects(
            conn,
            "contacts",
            [_contact(1, "vp@acme.example", "VP Sales"), _contact(2, "pat@gmail.com", "Analyst")],
            "l1",
        )
        load_events(
            conn,
            [
                _form("e1", 1, "Demo request", "2026-11-21T10:00:00.000Z"),
                _form("e2", 2, "Ebook download", "2026-11-20T10:00:00.000Z"),
            ],
            "l1",
        )

    dbt_build(pg, AS_OF, unit_tests=True)
    unit_tests = _unit_test_results()
    assert len(unit_tests) >= 17
    assert set(unit_tests) == {"pass"}
    with connect(pg) as conn:
        first = conn.execute(OUTGOING).fetchall()
    dbt_build(pg, AS_OF)
    assert _unit_test_results() == []  # the pipeline's hourly build leaves them out
    with connect(pg) as conn:
        second = conn.execute(OUTGOING).fetchall()
    assert first == second

    rules = project / "seeds" / "activity_rules.csv"
    lines = rules.read_text().splitlines()
    edited = [
        line.replace(",30,60,", ",90,90,", 1) if line.startswith("demo_request,") else line
        for line in lines
    ]
    assert edited != lines
    rules.write_text("\n".join(edited) + "\n")

    dbt_build(pg, AS_OF)
    with connect(pg) as conn:
        rows = dict(
            conn.execute(
                "select contact_id, engagement_score from marts.crm_outgoing_contacts"
            ).fetchall()
        )
        reasons = conn.execute(
            "select leadflow_reasons from marts.crm_outgoing_contacts where contact_id = 1"
        ).fetchone()[0]
    before = {r[0]: r for r in first}
    engagement_col = 7
    assert rows[1] > before[1][engagement_col]
    assert rows[2] == before[2][engagement_col]  # untouched by the edited rule
    assert "demo request" in reasons.lower()


def _unit_test_results() -> list[str]:
    """Status of each unit test in the last dbt invocation."""
    results = json.loads(run_results_file().read_text())["results"]
    return [r["status"] for r in results if r["unique_id"].startswith("unit_test.")]


# table: (columns compared, order); incremental tables without the as_of of the build that wrote
# each row and the time it stays valid from then, which differ between an hourly build and a full
# rebuild by design
SCORES = {
    "staging.stg_hubspot__contacts": ("*", "contact_id"),
    "intermediate.int_contact_fit_signals_matched": (
        "contact_id, rule_group, rule_id, attribute, points, priority, disqualification_reason,"
        " label, fit_input_hash, rules_hash",
        "contact_id, rule_group",
    ),
    "intermediate.int_contact_fit_scored": (
        "contact_id, fit_points, fit_score, fit_grade, fit_disqualification_reason,"
        " fit_input_hash, rules_hash",
        "contact_id",
    ),
    "intermediate.int_contact_activities_scored": ("*", "contact_id, activity_key"),
    "intermediate.int_contact_engagement_scored": (
        "contact_id, engagement_score, engagement_score_at_last_engagement, inactivity_points,"
        " last_engaged_at, last_hand_raise_at, first_recent_hand_raise_at, has_recent_hand_raise,"
        " event_disqualification_reason, event_disqualified_at, rules_hash",
        "contact_id",
    ),
    "intermediate.int_lead_features_derived": ("*", "contact_id"),
    "intermediate.int_lead_reasons_summarized": (
        "contact_id, leadflow_reasons, has_fit_signals",
        "contact_id",
    ),
}
KINDS = (
    ("e_visited_page", {"hs_url": "https://www.example.com/pricing"}),
    ("e_submitted_form", {"hs_form_title": "Demo request"}),
    ("e_opened_email", {}),
    ("e_clicked_email", {}),
    ("e_visited_page", {"hs_url": "https://www.example.com/blog"}),
    ("e_hard_bounced", {}),
)


def _events(first: int, count: int, end: datetime, span_h: int, contacts: int = 20) -> list[dict]:
    """`count` events over `contacts` contacts, spread over the `span_h` hours before `end`."""
    events = []
    for i in range(first, first + count):
        kind, props = KINDS[i % len(KINDS)] if i % 37 else KINDS[-1]
        at = end - timedelta(hours=(i * 7919) % span_h, minutes=i % 60)
        events.append(_event(f"h{i}", 1 + i % contacts, kind, at, props))
    return events


def _scores(pg) -> dict[str, list]:
    """The score tables, float points to 9 decimals: folding a stored sum forward and summing
    from scratch differ in the last bits of a float8."""
    with connect(pg) as conn:
        return {
            t: [
                tuple(round(v, 9) if isinstance(v, float) else v for v in row)
                for row in conn.execute(f"select {columns} from {t} order by {k}").fetchall()
            ]
            for t, (columns, k) in SCORES.items()
        }


def _event_counts(pg, *contact_ids: int) -> dict[int, int]:
    """Events counted in the sums, per contact (contacts without sums left out)."""
    with connect(pg) as conn:
        return dict(
            conn.execute(
                "select contact_id, sum(event_count)"
                " from intermediate.int_contact_activities_summed"
                " where contact_id = any(%s) group by contact_id",
                (list(contact_ids),),
            ).fetchall()
        )


def _meeting_counts(pg) -> dict[int, int]:
    with connect(pg) as conn:
        return dict(
            conn.execute(
                "select contact_id, event_count from intermediate.int_contact_activities_summed"
                " where activity_key = 'meeting_booked'"
            ).fetchall()
        )


def test_hourly_builds_match_a_full_rebuild(pg, project: Path) -> None:
    """Fit matches, event scores and reasons texts are kept per contact and only changed contacts
    are recomputed each hour: the result must equal a full rebuild at the same as_of, hour after
    hour, days later and after a backfill."""
    ensure_schema(pg)
    hour = timedelta(hours=1)
    with open_connection(pg) as conn, conn.transaction():
        load_objects(
            conn,
            "contacts",
            [_contact(c, f"p{c}@acme.example", "VP Sales") for c in range(1, 27)],
            "l1",
        )
        # 60 days of history; contacts 15 and 16 also have a demo request stamped after the
        # first build's as_of, which only the passing of time brings into scope
        load_events(conn, _events(0, 600, AS_OF, 60 * 24), "l1")
        load_events(
            conn,
            [
                _form("f15", 15, "Demo request", AS_OF + hour / 2),
                _form("f16", 16, "Demo request", AS_OF + 1.5 * hour),
                # 21 engaged 5 days ago and opened an email since; 22 only opened one
                _event("v21", 21, "e_visited_page", AS_OF - 120 * hour),
                _event("o21", 21, "e_opened_email", AS_OF - 24 * hour),
                _event("o22", 22, "e_opened_email", AS_OF - 24 * hour),
                # in the days below, 23's demo request decays from 24 points to 21,
                # and 24 goes 60 days without engagement: only time changes their reasons
                _form("f23", 23, "Demo request", AS_OF - 240 * hour),
                _event("v24", 24, "e_visited_page", AS_OF - 57 * 24 * hour),
                # 25's demo request leaves the 30-day hand-raise window while its
                # other requests keep its score far above 100
                _form("f25", 25, "Demo request", AS_OF - 27 * 24 * hour),
                *[
                    _form(f"r25{i}", 25, title, AS_OF - hour)
                    for i, title in enumerate(
                        2 * ["Pricing request", "Quote request", "Contact sales"]
                    )
                ],
                # 26's page views, 10.5 points decayed, are capped at 10 until they
                # decay below it, and fall to 9 in the days below
                _event("v26", 26, "e_visited_page", AS_OF - 30 * 24 * hour),
                *[_event(f"v26{i}", 26, "e_visited_page", AS_OF - hour) for i in range(10)],
            ],
            "l1",
        )
        # a meeting with 3, booked the day before: its outcome is recorded an hour later
        load_objects(conn, "meetings", [_meeting(501, AS_OF - 24 * hour, "SCHEDULED", AS_OF)], "l1")
        replace_associations(conn, "meetings", "contacts", [501], [(501, 3, 200)], "l1")
    dbt_build(pg, AS_OF, full_refresh=True)

    late = {  # engagement arriving late: after 22's last event, between 21's events
        1: [_event("v22", 22, "e_visited_page", AS_OF + hour / 2)],
        2: [_form("d21", 21, "Demo request", AS_OF - 48 * hour)],
    }
    counted = _event_counts(pg, 7, 8)
    meetings = _meeting_counts(pg)
    for step in (1, 2):
        with open_connection(pg) as conn, conn.transaction():
            load_events(
                conn,
                _events(1000 * step, 40, AS_OF + step * hour, 3, contacts=4) + late[step],
                f"l{step + 1}",
            )
            # one contact changes job title each hour (its fit is matched again); in the second
            # hour another, without new events, loses every fit attribute, so no fit rule
            # matches it any more
            changed = [_contact(step + 4, f"p{step + 4}@acme.example", "Student")]
            if step == 2:
                changed.append({**changed[0], "id": "9", "properties": {"lifecyclestage": "lead"}})
            for contact in changed:
                contact["updatedAt"] = (AS_OF + step * hour).isoformat()
            load_objects(conn, "contacts", changed, f"l{step + 1}")
            if step == 1:  # the meeting is revised: read again, it is still one meeting
                meeting = _meeting(501, AS_OF - 24 * hour, "COMPLETED", AS_OF + hour)
                load_objects(conn, "meetings", [meeting], "l2")
            if step == 2:  # 7, with events counted last hour, is merged into 8
                record_merges(conn, [(7, 8)], "l3")
        dbt_build(pg, AS_OF + step * hour)
        hourly = _scores(pg)
        dbt_build(pg, AS_OF + step * hour, full_refresh=True)
        assert _scores(pg) == hourly, f"hour {step}"

    assert _meeting_counts(pg) == meetings == {3: 1}
    # the merged-away contact's events count for the survivor, and it has no scores of its own
    merged = _event_counts(pg, 7, 8)
    assert 7 not in merged and merged[8] == counted[7] + counted[8]

    # days pass without new input: only decay and the inactivity clock move the scores
    reasons = dict(row[:2] for row in hourly["intermediate.int_lead_reasons_summarized"])
    engagement = {r[0]: r for r in hourly["intermediate.int_contact_engagement_scored"]}
    later = AS_OF + 2 * hour + timedelta(days=5)
    dbt_build(pg, later)
    hourly = _scores(pg)
    dbt_build(pg, later, full_refresh=True)
    assert _scores(pg) == hourly, "days later"
    reasons_later = dict(row[:2] for row in hourly["intermediate.int_lead_reasons_summarized"])
    assert "+24 demo request" in reasons[23] and "+21 demo request" in reasons_later[23]
    assert "no engagement" not in reasons[24] and "no engagement" in reasons_later[24]
    engagement_later = {r[0]: r for r in hourly["intermediate.int_contact_engagement_scored"]}
    # columns 1 and 6: engagement_score and first_recent_hand_raise_at
    assert engagement[25][6] == AS_OF - 27 * 24 * hour
    assert engagement_later[25][1] == 100 and engagement_later[25][6] == AS_OF - hour
    assert engagement[26][1] == 10 and engagement_later[26][1] == 9

    dbt_build(pg, AS_OF - 24 * hour)  # a backfill of an earlier interval
    backfill = _scores(pg)
    dbt_build(pg, AS_OF - 24 * hour, full_refresh=True)
    assert _scores(pg) == backfill

    # a crash resets unlogged tables to empty: the next build must refill them, incremental
    # ones included, to the same rows
    with connect(pg) as conn:
        unlogged = [
            row[0]
            for row in conn.execute(
                "select relname from pg_class where relnamespace = 'intermediate'::regnamespace"
                " and relkind = 'r' and relpersistence = 'u'"
            )
        ]
        assert {
            "int_activities_classified",
            "int_contact_activities_summed",
            "int_contact_fit_signals_matched",
        } <= set(unlogged)
        conn.execute("truncate " + ", ".join(f"intermediate.{name}" for name in unlogged))
    dbt_build(pg, AS_OF - 24 * hour)
    assert _scores(pg) == backfill
    assert any(r[0] == 5 for r in backfill["intermediate.int_contact_engagement_scored"])


def test_the_declared_source_properties_are_exactly_those_the_staging_models_read() -> None:
    """hubspot_properties_read (dbt_project.yml) drives the catalog guard and the schema-drift
    alert; a property read with hs_prop() but not declared would escape both."""
    import re

    from leadflow.transform import properties_read

    staging = REPO_ROOT / "dbt_project" / "models" / "staging" / "hubspot"
    read = {
        t: sorted(
            set(re.findall(r"hs_prop\('(\w+)'\)", (staging / f"stg_hubspot__{t}.sql").read_text()))
        )
        for t in ("contacts", "companies", "deals")
    }
    # The engagement types are read by one macro: what every type reads (its select), and
    # each type's own (the lines of its direction and status expressions).
    macro = (REPO_ROOT / "dbt_project" / "macros" / "hubspot" / "engagements.sql").read_text()
    common = set(re.findall(r"hs_prop\('(\w+)'\)", macro.split("    select", 1)[1]))
    for t in ("calls", "meetings", "emails", "notes", "tasks"):
        own = re.findall(rf"^\s*'{t}': .*$", macro, re.MULTILINE)
        read[t] = sorted(
            common | {n for line in own for n in re.findall(r"hs_prop\('(\w+)'\)", line)}
        )
    assert read == {t: sorted(names) for t, names in properties_read("hubspot").items()}
