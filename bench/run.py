"""Company-scale benchmark of the warehouse side: load, dbt (full and hourly), GX gates, push diff.

Data is generated deterministically inside Postgres (generate_series + md5), in the same JSON
shapes the extractor writes, so the benchmark measures leadflow's SQL and loaders rather than a
Python generator. Each stage is timed on its own; figures go to bench/results/<name>.json and a
short table on stdout, with a naive baseline (row-by-row insert) measured in the same run.

    python -m bench.run --contacts 20000 --events 200000      # make bench-small
    python -m bench.run --contacts 1000000 --events 20000000  # make bench
    python -m bench.run ... --name N --resume  # more hours on run N's workload

The workload is an Enterprise portal's: every form submission and email open or click is also
in the forms and email events APIs' tables (as HubSpot shows it twice), so scoring counts
each once. The hourly cycle is measured for deltas that touch 0, 1k, 10k and 100k contacts
(`--touched`): each touched contact is edited and gets two new events, one hour after another.
On code without those tables (an older commit) the same events are generated without them.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import resource
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from leadflow import quality
from leadflow.db import connect, ensure_schema, open_connection
from leadflow.load import register_load
from leadflow.local import start_embedded_postgres
from leadflow.plan import CHANGED_SQL, DESIRED_SQL, restore_drift
from leadflow.settings import REPO_ROOT, PostgresSettings
from leadflow.sources.hubspot.raw import load_objects
from leadflow.sources.hubspot.writeback import HubSpotCrm
from leadflow.transform import dbt_build, run_results_file

RESULTS = REPO_ROOT / "bench" / "results"
AS_OF = datetime(2026, 11, 23, 10, tzinfo=UTC)

# Deterministic pseudo-random pick from an array by hashing the row number with a salt.
PICK = "({arr})[1 + abs(hashtext({salt} || i::text)) %% cardinality({arr})]"

CONTACTS_SQL = """
insert into raw.hubspot_contacts (id, record, updated_at, archived, _load_id)
select i, jsonb_build_object(
    'id', i::text,
    'createdAt', to_char(ts - interval '30 days', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'updatedAt', to_char(ts, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'archived', false,
    'properties', jsonb_build_object(
        'email', 'c' || i || '@' || {domain},
        'firstname', 'First' || i, 'lastname', 'Last' || i,
        'jobtitle', {title}, 'country', {country},
        'lifecyclestage', {stage}, 'hs_analytics_source', {source},
        'associatedcompanyid', (1000000 + i %% %(companies)s + 1)::text,
        'createdate', to_char(ts - interval '30 days', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'hs_lastmodifieddate', to_char(ts, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))),
    ts, false, 'bench'
from (select i, %(as_of)s::timestamptz - (abs(hashtext('t' || i::text)) %% 86400000)
             * interval '1 second' / 1000 as ts
      from generate_series(1, %(contacts)s) as i) as s
""".format(
    domain=PICK.format(
        arr="array['acme.example','globex.example','gmail.com','state.edu',"
        "'initech.example','umbrella.example','hooli.example']",
        salt="'d'",
    ),
    title=PICK.format(
        arr="array['CEO','VP Marketing','Director of IT','Marketing Manager',"
        "'Software Engineer','Analyst','Intern','Head of Sales']",
        salt="'j'",
    ),
    country=PICK.format(
        arr="array['United States','Germany','United Kingdom','France','India','Brazil']",
        salt="'c'",
    ),
    stage=PICK.format(arr="array['subscriber','lead','lead','marketingqualifiedlead']", salt="'l'"),
    source=PICK.format(
        arr="array['ORGANIC_SEARCH','PAID_SEARCH','DIRECT_TRAFFIC','REFERRALS']", salt="'s'"
    ),
)

COMPANIES_SQL = """
insert into raw.hubspot_companies (id, record, updated_at, archived, _load_id)
select 1000000 + i, jsonb_build_object(
    'id', (1000000 + i)::text, 'createdAt', '2026-06-01T00:00:00.000Z',
    'updatedAt', '2026-10-01T00:00:00.000Z', 'archived', false,
    'properties', jsonb_build_object('name', 'Company ' || i, 'domain', 'co' || i || '.example',
        'industry', {industry}, 'numberofemployees', (abs(hashtext('e' || i::text)) %% 5000)::text,
        'country', 'United States')),
    '2026-10-01', false, 'bench'
from generate_series(1, %(companies)s) as i
""".format(
    industry=PICK.format(
        arr="array['COMPUTER_SOFTWARE','FINANCIAL_SERVICES','RETAIL',"
        "'HIGHER_EDUCATION','MANUFACTURING']",
        salt="'i'",
    )
)

DEALS_SQL = """
insert into raw.hubspot_deals (id, record, updated_at, archived, _load_id)
select 2000000 + i, jsonb_build_object(
    'id', (2000000 + i)::text, 'createdAt', '2026-09-01T00:00:00.000Z',
    'updatedAt', '2026-10-15T00:00:00.000Z', 'archived', false,
    'properties', jsonb_build_object('dealname', 'Deal ' || i, 'amount', '10000',
        'pipeline', 'default', 'dealstage', {stage}, 'createdate', '2026-09-01T00:00:00.000Z')),
    '2026-10-15', false, 'bench'
from generate_series(1, %(deals)s) as i
""".format(
    stage=PICK.format(
        arr="array['qualifiedtobuy','contractsent','closedwon','closedlost']", salt="'g'"
    )
)

DEAL_LINKS_SQL = """
insert into raw.hubspot_associations (from_type, from_id, to_type, to_id, type_id, _load_id)
select 'deals', 2000000 + i, 'contacts', i * 20, 3, 'bench' from generate_series(1, %(deals)s) i
union all
select 'contacts', i * 20, 'deals', 2000000 + i, 4, 'bench' from generate_series(1, %(deals)s) i
"""

EVENTS_SQL = """
insert into raw.hubspot_events
    (id, event_type, object_type, object_id, occurred_at, record, _load_id)
select 'ev' || %(offset)s + i, kind, 'contact', contact, at,
    jsonb_build_object('id', 'ev' || %(offset)s + i, 'eventType', kind, 'objectType', 'CONTACT',
        'objectId', contact::text,
        'occurredAt', to_char(at, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'properties', case kind
            when 'e_submitted_form' then jsonb_build_object('hs_form_title', {form},
                'hs_form_id', 'form-' || lower(replace({form}, ' ', '-')))
            when 'e_visited_page' then jsonb_build_object('hs_url', {url})
            else '{{}}'::jsonb end),
    %(load_id)s
from (select i, 1 + abs(hashtext('o' || (%(offset)s + i)::text)) %% %(contacts)s as contact,
             {kind} as kind,
             %(end)s::timestamptz - (abs(hashtext('w' || (%(offset)s + i)::text)) %% %(span_s)s)
                 * interval '1 second' as at
      from generate_series(1, %(events)s) as i) as s
""".format(
    kind=PICK.format(
        arr="array['e_visited_page','e_visited_page','e_visited_page',"
        "'e_opened_email','e_clicked_email','e_submitted_form']",
        salt="'k' || %(offset)s::text",
    ),
    form=PICK.format(
        arr="array['Newsletter signup','Ebook download','Webinar registration','Demo request']",
        salt="'f'",
    ),
    url=PICK.format(
        arr="array['https://www.example.com/pricing','https://www.example.com/blog/a',"
        "'https://www.example.com/product']",
        salt="'u'",
    ),
)

# The contacts a delta touches: spread over the base by a stride coprime to its size.
TOUCHED = "1 + ((%(salt)s::bigint + i) * 7919) %% %(contacts)s"

DELTA_CONTACTS_SQL = f"""
update raw.hubspot_contacts
set record = jsonb_set(record, '{{properties,jobtitle}}', to_jsonb(%(title)s::text)),
    updated_at = %(as_of)s, _load_id = %(load_id)s, _loaded_at = now()
where id in (select {TOUCHED} from generate_series(1, %(touched)s) as i)
"""

# Two events per touched contact in the hour before as_of, of the base's kinds.
DELTA_EVENTS_SQL = f"""
insert into raw.hubspot_events
    (id, event_type, object_type, object_id, occurred_at, record, _load_id)
select 'ev' || %(load_id)s || '-' || n, kind, 'contact', contact, at,
    jsonb_build_object('id', 'ev' || %(load_id)s || '-' || n, 'eventType', kind,
        'objectType', 'CONTACT', 'objectId', contact::text,
        'occurredAt', to_char(at, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'properties', case kind
            when 'e_submitted_form' then jsonb_build_object('hs_form_title', 'Demo request',
                'hs_form_id', 'form-demo-request')
            when 'e_visited_page' then jsonb_build_object('hs_url', 'https://www.example.com/pricing')
            else '{{}}'::jsonb end),
    %(load_id)s
from (select i * 2 + k as n, {TOUCHED} as contact,
             (array['e_visited_page','e_visited_page','e_visited_page',
                    'e_opened_email','e_clicked_email','e_submitted_form'])
                 [1 + abs(hashtext(%(load_id)s || (i * 2 + k)::text)) %% 6] as kind,
             %(as_of)s::timestamptz - (abs(hashtext('w' || %(load_id)s || (i * 2 + k)::text))
                 %% 3600) * interval '1 second' as at
      from generate_series(1, %(touched)s) as i, generate_series(0, 1) as k) as s
"""

# What the forms and email events APIs show of the events loaded by `load_id` (HubSpot lists a
# submission and an open or click there too): the same time, the contact's email.
MIRRORED_SQL = """
insert into raw.hubspot_form_submissions (id, kind, email, occurred_at, record, _load_id)
select 'cv-' || e.id, e.record #>> '{properties,hs_form_id}',
    c.record #>> '{properties,email}', e.occurred_at,
    jsonb_build_object('conversionId', 'cv-' || e.id,
        'formName', e.record #>> '{properties,hs_form_title}',
        'submittedAt', (extract(epoch from e.occurred_at) * 1000)::bigint),
    e._load_id
from raw.hubspot_events as e
join raw.hubspot_contacts as c on c.id = e.object_id
where e._load_id = %(load_id)s and e.event_type = 'e_submitted_form';

insert into raw.hubspot_email_events (id, kind, email, occurred_at, record, _load_id)
select 'em-' || e.id, case e.event_type when 'e_opened_email' then 'OPEN' else 'CLICK' end,
    c.record #>> '{properties,email}', e.occurred_at,
    jsonb_build_object('id', 'em-' || e.id, 'emailCampaignId', 7,
        'created', (extract(epoch from e.occurred_at) * 1000)::bigint),
    e._load_id
from raw.hubspot_events as e
join raw.hubspot_contacts as c on c.id = e.object_id
where e._load_id = %(load_id)s and e.event_type in ('e_opened_email', 'e_clicked_email');
"""


def _mirror(pg: PostgresSettings, load_id: str) -> None:
    """The forms and email events APIs' copy of a load's events, where leadflow reads them."""
    with connect(pg) as conn:
        if conn.execute("select to_regclass('raw.hubspot_form_submissions')").fetchone()[0]:
            for statement in MIRRORED_SQL.split(";")[:2]:
                conn.execute(statement, {"load_id": load_id})


def _timed(label: str, results: dict[str, Any], fn: Callable[[], Any]) -> Any:
    began = time.perf_counter()
    value = fn()
    results[label] = round(time.perf_counter() - began, 2)
    print(f"  {label:<32}{results[label]:>9.2f} s", flush=True)
    return value


def _slowest_nodes(top: int = 8) -> dict[str, float]:
    """The slowest dbt nodes of the last build (from run_results.json), for profiling."""
    data = json.loads(run_results_file().read_text())
    timed = sorted(data["results"], key=lambda r: r["execution_time"], reverse=True)[:top]
    return {r["unique_id"].split(".", 2)[-1]: round(r["execution_time"], 2) for r in timed}


def _execute(pg: PostgresSettings, sql: str, params: dict[str, Any]) -> None:
    with connect(pg) as conn:
        conn.execute(sql, params)


def _vacuum_analyze(pg: PostgresSettings) -> None:
    """What autovacuum has long done in steady state: the first vacuum of 20M freshly written
    events (raw and classified, a minute or more each at 1M contacts) otherwise runs during the
    timed hourly cycle. The marts dbt rebuilds every hour are still vacuumed while the gates run,
    as they would be in production."""
    with psycopg.connect(**pg.conninfo(), autocommit=True) as conn:
        conn.execute("vacuum (analyze)")


def _mark_pushed(pg: PostgresSettings) -> None:
    """The CRM state after the previous hour's push: every desired row accepted, and its drift
    check done. Without it the hourly diff would be a first push of every contact, not the
    steady-state hour measured."""
    with connect(pg) as conn:
        conn.execute(
            "insert into leadflow.push_state (contact_id, properties, sent, pushed_at, run_id)"
            " select contact_id, properties, properties - 'lifecyclestage', now(), 'bench'"
            f" from ({DESIRED_SQL}) as desired"
            " on conflict (contact_id) do update set properties = excluded.properties"
        )
        conn.execute(
            "insert into leadflow.crm_drift_checks (run_id, contacts_restored,"
            " properties_recreated) values ('bench', 0, '{}')"
        )


def _seal_and_verify(pg: PostgresSettings, results: dict[str, Any]) -> None:
    """The outgoing gate's seal (a checksum of the whole list) and the push's check of it."""

    def seal() -> None:
        with quality.outgoing_locked(pg) as conn:
            quality.seal_outgoing(conn, "bench")

    def verify() -> None:
        with connect(pg) as conn:
            quality.verify_validated(conn, "bench")

    _timed("seal_outgoing_s", results, seal)
    _timed("verify_outgoing_s", results, verify)


def _drift_check(pg: PostgresSettings) -> int:
    """The push's check of what the CRM holds against what was sent, for the contacts read
    since the last check, rolled back. The generated raw records hold no leadflow values, so
    every re-read contact counts as drifted: the worst case of this check's cost."""
    with open_connection(pg) as conn, conn.transaction(force_rollback=True):
        return restore_drift(conn, HubSpotCrm(), {}, "bench").contacts


def _register_load(pg: PostgresSettings, load_id: str) -> None:
    """As the extract does before its first batch, so the gates find the load's rows by time."""
    with connect(pg) as conn:
        register_load(conn, load_id)


def _load_rate(pg: PostgresSettings, rows: int) -> dict[str, float]:
    """leadflow's COPY + upsert loader against a row-by-row insert baseline."""
    records = [
        {
            "id": str(10_000_000 + i),
            "properties": {"email": f"l{i}@x.example", "jobtitle": "CTO"},
            "createdAt": "2026-11-01T00:00:00.000Z",
            "updatedAt": "2026-11-02T00:00:00.000Z",
            "archived": False,
        }
        for i in range(rows)
    ]
    with open_connection(pg) as conn:
        began = time.perf_counter()
        with conn.transaction():
            load_objects(conn, "contacts", records, "bench-load")
        copy_rate = rows / (time.perf_counter() - began)
        sample = records[: max(1, rows // 20)]
        began = time.perf_counter()
        with conn.transaction(), conn.cursor() as cur:
            for r in sample:
                cur.execute(
                    "insert into raw.hubspot_companies (id, record, updated_at, _load_id)"
                    " values (%s, %s, %s, 'naive') on conflict (id) do nothing",
                    (int(r["id"]), json.dumps(r), r["updatedAt"]),
                )
        naive_rate = len(sample) / (time.perf_counter() - began)
        conn.execute("delete from raw.hubspot_contacts where _load_id = 'bench-load'")
        conn.execute("delete from raw.hubspot_companies where _load_id = 'naive'")
        conn.commit()
    return {
        "load_rows_per_s": round(copy_rate),
        "naive_rows_per_s": round(naive_rate),
        "load_vs_naive": round(copy_rate / naive_rate, 1),
    }


def _generate_and_build(
    pg: PostgresSettings, params: dict[str, Any], events: int, results: dict[str, Any]
) -> None:
    """The workload, generated inside Postgres, and leadflow's first (full) build of it."""
    _timed(
        "generate_crm_s",
        results,
        lambda: [
            _execute(pg, sql, params)
            for sql in (CONTACTS_SQL, COMPANIES_SQL, DEALS_SQL, DEAL_LINKS_SQL)
        ],
    )
    _timed(
        "generate_events_s",
        results,
        lambda: _execute(
            pg,
            EVENTS_SQL,
            {
                **params,
                "offset": 0,
                "events": events,
                "end": AS_OF - timedelta(hours=1),
                "span_s": 42 * 86400,
                "load_id": "bench",
            },
        ),
    )
    _timed("generate_mirrored_s", results, lambda: _mirror(pg, "bench"))
    results.update(_timed("load_200k_s", results, lambda: _load_rate(pg, 200_000)))
    _timed(
        "dbt_full_build_s",
        results,
        lambda: dbt_build(
            pg, AS_OF - timedelta(hours=1), full_refresh=True, timeout_s=pg.statement_timeout_s
        ),
    )
    results["dbt_full_slowest_s"] = _slowest_nodes()


def _catch_up(pg: PostgresSettings) -> int:
    """`--resume`: the generated database of an earlier run of the same name, brought up to date
    by one incremental build, as a deployment's next hour would after an interruption. Returns
    the hourly deltas it already holds: the new hours follow them."""
    with connect(pg) as conn:
        if not conn.execute("select exists (select from raw.hubspot_contacts)").fetchone()[0]:
            raise SystemExit(f"--resume: {pg.dbname} holds no generated workload")
        (hours,) = conn.execute(
            "select count(*) from leadflow.loads where load_id like 'delta%%'"
        ).fetchone()
    dbt_build(pg, AS_OF + timedelta(hours=hours - 1), timeout_s=pg.statement_timeout_s)
    return hours


def run(
    contacts: int,
    events: int,
    touched_counts: list[int],
    name: str | None = None,
    resume: bool = False,
) -> dict[str, Any]:
    name = name or f"bench_{contacts}"
    # Generating 20M events takes longer than the warehouse's 15-minute query limit on a
    # loaded 2-core machine; the benchmark is watched, not scheduled.
    pg = dataclasses.replace(
        start_embedded_postgres(RESULTS / "pgdata", dbname=name, reset=not resume),
        statement_timeout_s=4 * 3600,
    )
    ensure_schema(pg)
    results: dict[str, Any] = {"contacts": contacts, "events": events}
    params = {
        "contacts": contacts,
        "companies": max(1, contacts // 5),
        "deals": max(1, contacts // 20),
        "as_of": AS_OF - timedelta(hours=1),
    }
    print(f"benchmark {name}: {contacts} contacts, {events} events")
    hours_done = 0
    if resume:
        hours_done = _timed("dbt_catch_up_build_s", results, lambda: _catch_up(pg))
        results["resumed_after_hours"] = hours_done
    else:
        _generate_and_build(pg, params, events, results)
    _mark_pushed(pg)
    _timed("vacuum_analyze_s", results, lambda: _vacuum_analyze(pg))
    # GX's import alone is seconds (scipy, pandas, altair) whatever the data size; it is part of
    # every gate task, so it stays in the gates' figure and is also reported on its own
    _timed("gx_import_s", results, lambda: importlib.import_module("great_expectations"))
    results["cycles"] = {}
    for hour, touched in enumerate(touched_counts, start=hours_done + 1):
        if touched > contacts:
            continue
        as_of = AS_OF + timedelta(hours=hour - 1)
        print(f"hourly cycle {hour}: delta touching {touched} contacts")
        results["cycles"][str(touched)] = _hourly_cycle(pg, params, as_of, hour, touched)
    results["peak_child_rss_mb"] = round(
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    )
    results["peak_self_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    return results


def _hourly_cycle(
    pg: PostgresSettings, params: dict[str, Any], as_of: datetime, hour: int, touched: int
) -> dict[str, Any]:
    """One hour: a delta touching `touched` contacts, then everything leadflow does with it
    after the API reads (dbt, the gates, the seal, the drift check, the push diff)."""
    load_id = f"delta{hour}"
    cycle: dict[str, Any] = {"touched": touched}
    delta = {**params, "touched": touched, "as_of": as_of, "load_id": load_id}
    delta.update(salt=hour * 100_003, title=f"VP Sales {hour}")

    def load_delta() -> None:
        _register_load(pg, load_id)
        _execute(pg, DELTA_CONTACTS_SQL, delta)
        _execute(pg, DELTA_EVENTS_SQL, delta)
        _mirror(pg, load_id)

    _timed("delta_s", cycle, load_delta)
    _timed("dbt_hourly_build_s", cycle, lambda: dbt_build(pg, as_of))
    cycle["dbt_hourly_slowest_s"] = _slowest_nodes()
    _timed(
        "gx_gates_s",
        cycle,
        lambda: [
            quality.validate(pg, s, "bench", load_id=load_id)
            for s in ("raw_hubspot_contacts", "raw_hubspot_events", "crm_outgoing_contacts")
        ],
    )
    _seal_and_verify(pg, cycle)
    cycle["drift_marked_rows"] = _timed("drift_check_s", cycle, lambda: _drift_check(pg))
    cycle["push_changed_rows"] = _timed("push_diff_s", cycle, lambda: _count_changed(pg))
    cycle["hourly_cycle_excl_api_s"] = round(
        sum(
            cycle[k]
            for k in (
                "dbt_hourly_build_s",
                "gx_gates_s",
                "seal_outgoing_s",
                "verify_outgoing_s",
                "drift_check_s",
                "push_diff_s",
            )
        ),
        2,
    )
    _mark_pushed(pg)  # the push went out: the next hour diffs against it
    return cycle


def _count_changed(pg: PostgresSettings) -> int:
    with connect(pg) as conn:
        return conn.execute(f"select count(*) from ({CHANGED_SQL}) as c").fetchone()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument(
        "--touched",
        type=lambda v: [int(n) for n in v.split(",")],
        default=[0, 1_000, 10_000, 100_000],
        help="contacts each hourly delta touches, one hour after another",
    )
    parser.add_argument("--name", default=None, help="results file name (default bench_<N>)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="reuse the workload an earlier run of this name generated (skip generation and"
        " the full build); its hours follow that run's",
    )
    args = parser.parse_args()
    run(args.contacts, args.events, args.touched, args.name, args.resume)


if __name__ == "__main__":
    main()
