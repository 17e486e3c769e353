"""End to end with Salesforce (LEADFLOW_SOURCES lists salesforce): the lead_sync DAG under
Airflow (dag.test) extracts the Salesforce sandbox's eleven streams over HTTPS into raw, dbt
stages them and maps each Lead and Contact to one person; beside HubSpot, HubSpot's stages and
push are what they are without it, and a converted lead keeps its person id. Listed first,
Salesforce is the CRM: the same people land in the same stages as on HubSpot (each difference
named), and the push writes the org, read back over its API. Real Postgres, dbt, GX and HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from leadflow import sources
from leadflow.db import connect
from leadflow.local import run_lead_sync
from leadflow.sources.salesforce.client import SalesforceClient
from leadflow.sources.salesforce.fields import FIELDS
from leadflow.sources.salesforce.objects import READ
from leadflow.sources.salesforce.sandbox.embedded import connection_env
from leadflow.sources.salesforce.sandbox.server import SandboxConfig, SandboxServer
from leadflow.sources.salesforce.sandbox.synthetic import NURTURE_CAMPAIGN, generate
from leadflow.sources.salesforce.settings import salesforce_settings
from leadflow.transform import run_dbt

from .conftest import NOW
from .test_lead_sync_e2e import EXPECTED_STAGES, _crm_contact, _seed

LAST_WRITE = "select max(_loaded_at) from raw.salesforce_leads"
PERSON_IDS = "select record_id, person_id from intermediate.int_salesforce_person_ids"


@pytest.fixture
def salesforce(
    connections, airflow_home, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SandboxServer]:
    org = generate(seed=9, people=80, now=NOW - timedelta(hours=2))
    with SandboxServer(org, SandboxConfig()) as server:
        for key, value in connection_env(server.url, server.ca_file).items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("LEADFLOW_SOURCES", "hubspot,salesforce")
        yield server


def test_salesforce_streams_run_in_the_dag_beside_hubspot(
    sandbox, connections, salesforce, monkeypatch: pytest.MonkeyPatch
):
    ids = _seed(sandbox.portal)
    org = salesforce.org
    dag_run = run_lead_sync(NOW)
    assert dag_run.state == "success"
    crm = {key: _crm_contact(sandbox.url, cid) for key, cid in ids.items()}
    assert {key: props["leadflow_stage"] for key, props in crm.items()} == EXPECTED_STAGES

    with connect(connections) as conn:
        loaded = {
            obj.name: conn.execute(f"select count(*) from raw.{obj.stream}").fetchone()[0]
            for obj in READ
        }
        people = dict(
            conn.execute(
                "select record_id, person_key from intermediate.int_salesforce_person_records"
            ).fetchall()
        )
        (stats,) = conn.execute(
            "select stats from leadflow.runs where run_id = %s", (dag_run.run_id,)
        ).fetchone()
    assert loaded == {obj.name: len(org.records[obj.name]) for obj in READ}
    converted = [r for r in org.records["Lead"].values() if r["IsConverted"]]
    assert converted
    for lead in converted:
        assert (
            people[lead["Id"]] == people[lead["ConvertedContactId"]] == lead["ConvertedContactId"]
        )
    assert len(people) == len(org.records["Lead"]) + len(org.records["Contact"])
    assert "salesforce_leads" in str(stats)
    # their data tests and unit tests (the hourly build leaves unit tests out)
    people_models = (
        "int_salesforce_person_records int_salesforce_person_ids int_salesforce_person_numbers"
        " int_salesforce_people int_salesforce_deals_associated int_salesforce_person_merges"
    )
    assert run_dbt(connections, ["test", "--select", people_models], NOW) == 0
    with connect(connections) as conn:
        (written,) = conn.execute(LAST_WRITE).fetchone()
        person_ids = dict(conn.execute(PERSON_IDS).fetchall())
        written_to = dict(
            conn.execute(
                "select crm_record_id, contact_id from intermediate.int_salesforce_people"
            ).fetchall()
        )
    assert person_ids.keys() == people.keys()
    by_key: dict[str, set[int]] = {}
    for record_id, key in people.items():
        by_key.setdefault(key, set()).add(person_ids[record_id])
    # one number per person, a different one for each
    assert all(len(ids) == 1 for ids in by_key.values())
    assert len(set(person_ids.values())) == len(by_key)
    # one row per person, written to its Contact once converted
    assert written_to == {key: ids.pop() for key, ids in by_key.items()}
    assert {lead["ConvertedContactId"] for lead in converted} <= written_to.keys()

    rerun = run_lead_sync(NOW)
    assert rerun.state == "success"
    with connect(connections) as conn:
        (stats,) = conn.execute(
            "select stats from leadflow.runs where run_id = %s", (rerun.run_id,)
        ).fetchone()
        (written_after,) = conn.execute(LAST_WRITE).fetchone()
    assert stats["push"]["changed"] == 0
    assert written_after == written  # nothing read again was rewritten

    # Sales converts a lead the next hour: its new contact is the same person, and nobody
    # else's number moves, through the hourly build or a --full-refresh one.
    lead, master, duplicate = [r for r in org.records["Lead"].values() if not r["IsConverted"]][:3]
    contact_id = org.convert_lead(lead["Id"], at=NOW + timedelta(minutes=30))
    # and merges two leads: the duplicate's person moves to the master's
    clock, org.clock = org.clock, lambda: NOW + timedelta(minutes=40)
    org.merge("Lead", master["Id"], duplicate["Id"])
    org.clock = clock
    assert run_lead_sync(NOW + timedelta(hours=1)).state == "success"
    assert run_dbt(connections, ["build", "--full-refresh", "--select", people_models], NOW) == 0
    with connect(connections) as conn:
        after = dict(conn.execute(PERSON_IDS).fetchall())
    assert after[contact_id] == after[lead["Id"]] == person_ids[lead["Id"]]
    assert {r: after[r] for r in person_ids} == person_ids
    with connect(connections) as conn:
        merges = conn.execute(
            "select old_contact_id, survivor_contact_id"
            " from intermediate.int_salesforce_person_merges"
        ).fetchall()
        sf_people = "select contact_id from intermediate.int_salesforce_people"
        people_after = {pid for (pid,) in conn.execute(sf_people)}
    assert merges == [(person_ids[duplicate["Id"]], person_ids[master["Id"]])]
    assert person_ids[duplicate["Id"]] not in people_after
    assert person_ids[master["Id"]] in people_after

    # Listed first, Salesforce is the CRM: the shared layer reads its people.
    monkeypatch.setenv("LEADFLOW_SOURCES", "salesforce,hubspot")
    assert sources.crm().held_relation == "intermediate.int_salesforce_people"
    assert run_dbt(connections, ["run", "--select", "int_contacts_enriched"], NOW) == 0
    with connect(connections) as conn:
        shared = conn.execute(
            "select e.contact_id, e.email_domain, e.company_id, e.owner_id, p.email, p.company_id"
            " from intermediate.int_contacts_enriched as e"
            " full join intermediate.int_salesforce_people as p using (contact_id)"
        ).fetchall()
    assert len(shared) == len(people_after)
    for _, domain, company_id, _, email, account_id in shared:
        assert domain == ((email or "").partition("@")[2] or None)
        assert company_id == account_id
    assert any(owner_id is not None and owner_id.startswith("005") for *_, owner_id, _, _ in shared)


def _why_stages_differ(on_hubspot: tuple, on_salesforce: tuple) -> str | None:
    """What the org does not hold that HubSpot's answer rests on, or None when nothing explains
    the difference. Rows: (stage, stage_reason, disqualification_reason, engagement_score)."""
    hs_stage, hs_reason, hs_disqualification, hs_engagement = on_hubspot
    _, _, _, sf_engagement = on_salesforce
    if hs_disqualification in ("no_budget", "no_need"):
        return "BANT answers: Salesforce has no standard field for them"
    if hs_stage == "nurture" and ", was " in hs_reason:
        return "the stage before leadflow's first run: HubSpot's lifecycle history"
    if hs_stage == "mql" and sf_engagement < hs_engagement:
        return "behaviour only marketing automation holds (page views, email opens)"
    return None


def test_the_same_people_land_in_the_same_stages_with_salesforce_as_the_crm(
    sandbox, connections, airflow_home, monkeypatch: pytest.MonkeyPatch
):
    """The generator's people, read from HubSpot and then from Salesforce as the CRM: their
    stages agree person by person, except where HubSpot's answer rests on what the org does
    not hold (BANT answers, lifecycle history, marketing behaviour), each difference named."""
    from leadflow.sources.hubspot.sandbox import Portal

    now = NOW - timedelta(hours=2)
    sandbox.portal = sandbox.app.portal = Portal.generate(seed=9, contacts=80, now=now)
    sandbox.portal.clock = lambda: NOW
    org = generate(seed=9, people=80, now=now)
    with SandboxServer(org, SandboxConfig()) as server:
        for key, value in connection_env(server.url, server.ca_file).items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("LEADFLOW_SOURCES", "hubspot,salesforce")
        assert run_lead_sync(NOW).state == "success"
    stages = (
        "select email, leadflow_stage, stage_reason, disqualification_reason, engagement_score"
        " from marts.fct_lead_qualification where email is not null"
    )
    with connect(connections) as conn:
        on_hubspot = {email: row for email, *row in conn.execute(stages)}

    monkeypatch.setenv("LEADFLOW_SOURCES", "salesforce,hubspot")
    build = ["build", "--full-refresh", "--exclude", "resource_type:unit_test"]
    assert run_dbt(connections, build, NOW) == 0
    with connect(connections) as conn:
        on_salesforce = {email: row for email, *row in conn.execute(stages)}
        touches = dict(
            conn.execute(
                "select source_type, count(*) from intermediate.int_activities"
                " where is_sales_touch group by 1"
            ).fetchall()
        )
    assert on_salesforce.keys() == on_hubspot.keys()
    differ = {
        email: _why_stages_differ(row, on_salesforce[email])
        for email, row in on_hubspot.items()
        if on_salesforce[email][0] != row[0]
    }
    unexplained = {
        e: (on_hubspot[e][0], on_salesforce[e][0]) for e, why in differ.items() if not why
    }
    assert not unexplained
    assert len(differ) < len(on_hubspot) / 10
    # calls and emails are Tasks, meetings Events: each a sales touch
    assert touches.keys() == {"event", "task:call", "task:email"}


LEADFLOW_FIELDS = ", ".join(f.name for f in FIELDS)


def _written(client: SalesforceClient) -> dict[str, dict]:
    """leadflow's fields of every Lead and Contact, read back over the org's API, by id."""
    return {
        r["Id"]: r
        for sobject in ("Lead", "Contact")
        for r in client.query(f"SELECT Id, {LEADFLOW_FIELDS} FROM {sobject}")
    }


def test_salesforce_as_the_crm_gets_the_stages_the_handoffs_and_the_nurture_campaign(
    sandbox, connections, airflow_home, monkeypatch: pytest.MonkeyPatch
):
    """Salesforce listed first is the CRM the push writes: each person's record (the Contact
    of a converted lead, never the lead) gets leadflow's fields, each SQL one hand-off Task,
    each nurture lead a CampaignMember of the nurture campaign. Records Salesforce could not
    lock are retried by the next run until they land, and a run after that writes nothing."""
    org = generate(seed=9, people=80, now=NOW - timedelta(hours=2))
    campaigns = {c["Name"]: c["Id"] for c in org.records["Campaign"].values()}
    campaign = campaigns[NURTURE_CAMPAIGN]
    # open leads ask for a demo: those that fit become SQLs
    for lead in list(org.records["Lead"].values())[:30]:
        request = {"CampaignId": campaigns["Demo request"], "LeadId": lead["Id"]}
        if lead["Status"].startswith(("Open", "Working")) and not org._is_member(request):
            org.insert(
                "CampaignMember",
                {**request, "Status": "Responded"},
                trusted=True,
                at=NOW - timedelta(minutes=90),
            )
    org.clock = lambda: NOW - timedelta(minutes=1)  # the push's writes: read by a re-run
    monkeypatch.setenv("LEADFLOW_SOURCES", "salesforce,hubspot")
    monkeypatch.setenv("LEADFLOW_NURTURE_LIST_ID", campaign)
    with SandboxServer(org, SandboxConfig()) as server:
        for key, value in connection_env(server.url, server.ca_file).items():
            monkeypatch.setenv(key, value)
        locked = {r["Id"] for r in list(org.records["Lead"].values())[:40:8]}
        org.faults.lock_failures = set(locked)
        assert run_lead_sync(NOW).state == "success"

        outgoing = (
            "select p.crm_record_id, o.leadflow_stage, o.leadflow_score"
            " from marts.crm_outgoing_contacts as o"
            " inner join intermediate.int_salesforce_people as p using (contact_id)"
        )
        with connect(connections) as conn:
            expected = {rid: (stage, score) for rid, stage, score in conn.execute(outgoing)}
            errors = dict(
                conn.execute(
                    "select p.crm_record_id, l.error from leadflow.push_log as l"
                    " inner join intermediate.int_salesforce_people as p using (contact_id)"
                    " where l.status = 'error'"
                ).fetchall()
            )
        with SalesforceClient(salesforce_settings()) as client:
            written = _written(client)
            tasks = list(client.query("SELECT Id, WhoId, Description FROM Task"))
            members = {
                m["LeadOrContactId"]
                for m in client.query(
                    f"SELECT LeadOrContactId FROM CampaignMember WHERE CampaignId = '{campaign}'"
                )
            }
        rejected = set(errors) & locked
        assert rejected and all("UNABLE_TO_LOCK_ROW" in errors[r] for r in rejected)
        for record_id, (stage, score) in expected.items():
            fields = written[record_id]
            if record_id in rejected:
                assert fields["Leadflow_Stage__c"] is None
                continue
            assert fields["Leadflow_Stage__c"] == stage
            assert fields["Leadflow_Score__c"] == pytest.approx(float(score))
            assert fields["Leadflow_Stage_Entered_At__c"] is not None
        # a converted lead is never written: its contact is
        for lead in org.records["Lead"].values():
            if lead["IsConverted"]:
                assert written[lead["Id"]]["Leadflow_Stage__c"] is None
                assert lead["ConvertedContactId"] in expected
        sqls = {rid for rid, (stage, _) in expected.items() if stage == "sql"}
        handoffs = [t for t in tasks if "leadflow ref" in (t["Description"] or "")]
        assert sqls and sorted(t["WhoId"] for t in handoffs) == sorted(sqls)
        nurtured = {rid for rid, (stage, _) in expected.items() if stage == "nurture"}
        assert nurtured and members == nurtured

        # a re-run reads the pushed records back (their values held: nothing to restore) and
        # retries the rejected rows; the run after it writes nothing
        pushes = []
        for _ in range(2):
            dag_run = run_lead_sync(NOW)
            assert dag_run.state == "success"
            with connect(connections) as conn:
                (stats,) = conn.execute(
                    "select stats from leadflow.runs where run_id = %s", (dag_run.run_id,)
                ).fetchone()
            pushes.append(stats["push"])

        with SalesforceClient(salesforce_settings()) as client:
            written = _written(client)
            task_count = len(list(client.query("SELECT Id FROM Task")))
    assert pushes[0]["pushed"] == len(rejected) and pushes[0]["failed"] == 0
    assert pushes[0]["restored"] == 0
    assert pushes[1]["changed"] == 0
    assert all(written[r]["Leadflow_Stage__c"] == expected[r][0] for r in rejected)
    assert task_count == len(tasks)  # no hand-off twice
