"""`leadflow doctor`: every prerequisite of a run, checked one by one, with what to fix.

Each check is independent and catches its own errors, so one broken connection still lets
the others report. Nothing here writes to HubSpot; write scopes cannot be proven without a
write, so they are named, not tested.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from leadflow.config import ConfigError, HubSpotSettings, PostgresSettings

MIN_POSTGRES = 14
# Read endpoints leadflow calls, and the private-app scope each needs (a 403 means it is missing).
SCOPE_PROBES: list[tuple[str, str, dict[str, Any]]] = [
    ("crm.objects.contacts.read", "/crm/v3/objects/contacts", {"limit": 1}),
    ("crm.objects.companies.read", "/crm/v3/objects/companies", {"limit": 1}),
    ("crm.objects.deals.read", "/crm/v3/objects/deals", {"limit": 1}),
    ("crm.objects.owners.read", "/crm/v3/owners", {"limit": 1}),
    ("crm.schemas.contacts.read", "/crm/v3/properties/contacts", {}),
    ("events read", "/events/v3/events", {"objectType": "contact", "limit": 1}),
]
WRITE_SCOPES = "crm.objects.contacts.write, crm.schemas.contacts.write"
SYMBOLS = {"ok": "✓", "warn": "!", "fail": "✗", "skip": "-"}


@dataclass
class Check:
    name: str
    status: str  # ok | warn | fail | skip
    detail: str = ""
    fix: str = ""

    def line(self) -> str:
        text = f"{SYMBOLS[self.status]} {self.name}"
        if self.detail:
            text += f": {self.detail}"
        if self.fix and self.status in ("fail", "warn"):
            text += f"\n    {'fix' if self.status == 'fail' else 'note'}: {self.fix}"
        return text


def schema_tables() -> list[str]:
    """The tables schema.sql creates: what `begin` guarantees before every run."""
    ddl = resources.files("leadflow").joinpath("schema.sql").read_text()
    return re.findall(r"create table if not exists (\w+\.\w+)", ddl)


def _postgres(results: list[Check]) -> PostgresSettings | None:
    from leadflow.config import POSTGRES_CONN_ID, postgres_settings
    from leadflow.db import open_connection

    try:
        pg = postgres_settings()
    except ConfigError as exc:
        results.append(Check(f"connection {POSTGRES_CONN_ID}", "fail", "not usable", str(exc)))
        return None
    where = pg.host if pg.host.startswith("/") else f"{pg.host}:{pg.port}"
    results.append(Check(f"connection {POSTGRES_CONN_ID}", "ok", f"{where}/{pg.dbname}"))
    try:
        conn = open_connection(pg)
    except ConfigError as exc:
        results.append(Check("Postgres reachable", "fail", "cannot connect", str(exc)))
        return None
    with conn:
        version = int(conn.execute("show server_version_num").fetchone()[0]) // 10000
        results.append(
            Check(
                "Postgres version",
                "ok" if version >= MIN_POSTGRES else "fail",
                f"{version}",
                f"use PostgreSQL {MIN_POSTGRES} or newer",
            )
        )
        expected = schema_tables()
        present = {
            f"{s}.{t}"
            for s, t in conn.execute(
                "select table_schema, table_name from information_schema.tables"
                " where table_schema in ('raw', 'leadflow')"
            ).fetchall()
        }
        missing = [t for t in expected if t not in present]
        results.append(
            Check(
                "leadflow schema",
                "ok" if not missing else "warn",
                f"{len(expected) - len(missing)}/{len(expected)} tables"
                + (f", missing {', '.join(missing)}" if missing else ""),
                "nothing to do on a fresh database: every run creates them first (`leadflow run`)",
            )
        )
        (built,) = conn.execute(
            "select to_regclass('marts.crm_outgoing_contacts') is not null"
        ).fetchone()
        results.append(
            Check(
                "dbt marts built",
                "ok" if built else "warn",
                "marts.crm_outgoing_contacts present" if built else "not built yet",
                "run the pipeline once (`leadflow run`); `leadflow plan/report` need the marts",
            )
        )
    return pg


def _hubspot(results: list[Check]) -> None:
    from leadflow import push
    from leadflow.config import HUBSPOT_CONN_ID, hubspot_settings
    from leadflow.hubspot import HubSpotAuthError, HubSpotClient, HubSpotError, HubSpotUnreachable

    try:
        hs: HubSpotSettings = hubspot_settings()
    except ConfigError as exc:
        results.append(Check(f"connection {HUBSPOT_CONN_ID}", "fail", "not usable", str(exc)))
        return
    results.append(
        Check(
            f"connection {HUBSPOT_CONN_ID}",
            "ok",
            f"{hs.base_url}, {hs.rate_limit_per_10s} requests/10 s",
        )
    )
    quick = dataclasses.replace(hs, max_attempts=2, timeout_s=min(hs.timeout_s, 10.0))
    with HubSpotClient(quick) as client:
        try:
            definitions = client.properties("contacts")
        except HubSpotUnreachable as exc:
            results.append(Check("HubSpot reachable", "fail", "no answer", str(exc)))
            return
        except HubSpotAuthError as exc:
            reachable = Check("HubSpot reachable", "ok", hs.base_url)
            if exc.status == 403:
                results += [reachable, Check("token accepted", "ok", "authenticated")]
            else:
                results += [
                    reachable,
                    Check(
                        "token accepted",
                        "fail",
                        f"HTTP {exc.status}",
                        f"put a valid private-app access token in the password of the Airflow"
                        f" connection '{HUBSPOT_CONN_ID}'",
                    ),
                ]
                return
            definitions = None
        except HubSpotError as exc:
            results.append(Check("HubSpot reachable", "fail", str(exc), "see the message"))
            return
        else:
            results += [
                Check("HubSpot reachable", "ok", hs.base_url),
                Check("token accepted", "ok", "GET /crm/v3/properties/contacts answered"),
            ]
        for scope, path, params in SCOPE_PROBES:
            try:
                client.request("GET", path, params=params)
                results.append(Check(f"scope {scope}", "ok", f"GET {path}"))
            except HubSpotAuthError as exc:
                results.append(
                    Check(
                        f"scope {scope}",
                        "fail",
                        f"GET {path} answered {exc.status}",
                        f"add the scope '{scope}' to the private app (HubSpot: Settings →"
                        " Integrations → Private apps → Scopes) and put the new token in"
                        f" '{HUBSPOT_CONN_ID}'",
                    )
                )
            except HubSpotError as exc:
                results.append(Check(f"scope {scope}", "fail", str(exc), "see the message"))
        results.append(
            Check(
                "write scopes",
                "skip",
                f"{WRITE_SCOPES}: not testable without writing; the first push fails with 403"
                " if they are missing",
            )
        )
    if definitions is None:
        return
    by_name = {d["name"]: d for d in definitions}
    for wanted in push.CUSTOM_PROPERTIES:
        name = wanted["name"]
        have = by_name.get(name)
        if have is None:
            results.append(
                Check(
                    f"property {name}",
                    "warn",
                    "missing; the first push creates it",
                    "grant crm.schemas.contacts.write, or create it in HubSpot with type"
                    f" {wanted['type']}",
                )
            )
        elif have.get("type") != wanted["type"]:
            results.append(
                Check(
                    f"property {name}",
                    "fail",
                    f"type {have.get('type')}, leadflow writes {wanted['type']}",
                    f"delete or rename the contact property '{name}' in HubSpot; leadflow"
                    " recreates it with the right type on the next push",
                )
            )
        else:
            results.append(Check(f"property {name}", "ok", wanted["type"]))
    options = (by_name.get("lifecyclestage") or {}).get("options") or []
    results.append(
        Check(
            "property lifecyclestage",
            "ok" if options else "fail",
            f"{len(options)} options" if options else "no options declared",
            "leadflow moves lifecyclestage only forward in the option order it reads here;"
            " check the contact property 'lifecyclestage' in HubSpot",
        )
    )


def _suites(results: list[Check]) -> None:
    from leadflow import quality

    names = sorted(p.stem for p in quality.expectations_dir().glob("*.json"))
    if not names:
        results.append(
            Check(
                "GX suites",
                "fail",
                f"none in {quality.expectations_dir()}",
                "point LEADFLOW_EXPECTATIONS_DIR at the repo's expectations/ folder",
            )
        )
        return
    try:
        from great_expectations.expectations.registry import get_expectation_impl
    except ImportError:  # pragma: no cover - GX is a hard dependency
        get_expectation_impl = None  # type: ignore[assignment]
    for name in names:
        try:
            spec = quality.load_suite(name)
            if "table" not in spec and "query" not in spec:
                raise ValueError("has neither 'table' nor 'query'")
            for e in spec["expectations"]:
                if get_expectation_impl is not None:
                    get_expectation_impl(e["type"])
            results.append(Check(f"GX suite {name}", "ok", f"{len(spec['expectations'])} checks"))
        except Exception as exc:  # any defect in a suite file is the operator's to fix
            results.append(
                Check(
                    f"GX suite {name}",
                    "fail",
                    f"{type(exc).__name__}: {exc}",
                    f"fix expectations/{name}.json",
                )
            )


def _dbt(results: list[Check], pg: PostgresSettings | None) -> None:
    from leadflow.transform import project_dir

    project = project_dir()
    dbt = Path(sys.executable).with_name("dbt")
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    if pg is not None:
        env.update(pg.dbt_env())
    proc = subprocess.run(
        [str(dbt), "parse", "--project-dir", str(project), "--profiles-dir", str(project)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode == 0:
        results.append(Check("dbt project parses", "ok", str(project)))
    else:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
        results.append(
            Check(
                "dbt project parses",
                "fail",
                " | ".join(tail),
                f"run `dbt parse --project-dir {project} --profiles-dir {project}` and fix the"
                " model or seed it names",
            )
        )


def _dag(results: list[Check]) -> None:
    from leadflow.local import load_lead_sync

    try:
        dag = load_lead_sync()
        results.append(Check("DAG lead_sync imports", "ok", f"{len(dag.tasks)} tasks"))
    except Exception as exc:  # import errors of the DAG file are reported, not raised
        results.append(Check("DAG lead_sync imports", "fail", str(exc)[:300], "fix dags/"))


def run_checks(skip_dbt: bool = False) -> list[Check]:
    results: list[Check] = []
    pg = _postgres(results)
    _hubspot(results)
    _suites(results)
    steps: list[Callable[[], None]] = [lambda: _dag(results)]
    if skip_dbt:
        results.append(Check("dbt project parses", "skip", "--skip-dbt"))
    else:
        steps.append(lambda: _dbt(results, pg))
    for step in steps:
        step()
    return results
