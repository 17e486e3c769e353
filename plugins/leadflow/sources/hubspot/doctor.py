"""`leadflow doctor`'s HubSpot checks: the connection, the token, one read per scope (a 403 names
the missing scope), leadflow's contact properties and the lifecyclestage options. Nothing is
written to HubSpot; the write scopes cannot be proven without a write, so they are named."""

from __future__ import annotations

import dataclasses

from leadflow.doctor import Check
from leadflow.errors import ConfigError
from leadflow.settings import PushOptions, connection_extra, read
from leadflow.sources.hubspot.client import (
    OPTIONAL_APIS,
    SCOPE_PROBES,
    HubSpotAuthError,
    HubSpotClient,
    HubSpotError,
    HubSpotUnreachable,
)
from leadflow.sources.hubspot.settings import HubSpotSettings, conn_id, hubspot_settings
from leadflow.sources.hubspot.writeback import CUSTOM_PROPERTIES

MIN_POSTGRES = 14
WRITE_SCOPES = "crm.objects.contacts.write, crm.schemas.contacts.write, crm.lists.write"


def checks() -> list[Check]:
    results: list[Check] = []
    _check(results)
    return results


def _check(results: list[Check]) -> None:
    HUBSPOT_CONN_ID = conn_id()  # noqa: N806 (reads as the constant it was)
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
                Check("token accepted", "ok", "the Properties API answered"),
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
        results += [_optional_check(client, stream) for stream in OPTIONAL_APIS]
        results.append(_nurture_list_check(client))
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
    for wanted in CUSTOM_PROPERTIES:
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


def _nurture_list_check(client: HubSpotClient) -> Check:
    """The list nurtured contacts go into: it must be a static list of contacts."""
    list_id = read(PushOptions, connection_extra(conn_id()), "the CRM connection").nurture_list_id
    if not list_id:
        return Check("nurture list", "skip", "nurture_list_id not set: no list is kept")
    fix = (
        "set nurture_list_id to the id of a static (MANUAL or SNAPSHOT) list of contacts; the"
        " token needs crm.lists.read and crm.lists.write"
    )
    try:
        found = client.get_list(list_id)
    except HubSpotError as exc:
        return Check(f"nurture list {list_id}", "fail", str(exc), fix)
    kind, objects = found.get("processingType"), found.get("objectTypeId")
    if objects != "0-1" or kind not in ("MANUAL", "SNAPSHOT"):
        return Check(f"nurture list {list_id}", "fail", f"a {kind} list of {objects}", fix)
    return Check(
        f"nurture list {list_id}",
        "ok",
        f"{found.get('name')} ({kind}, {found.get('size')} members)",
    )


# What scoring still reads when an optional stream is refused.
INSTEAD = {
    "events": "page views do not count; forms, marketing email and sales activity still do",
    "form_submissions": "form hand-raises count only from events v3 (Enterprise)",
    "email_events": "opens, clicks and bounces count only from events v3 (Enterprise)",
    "subscription_changes": "unsubscribes count only from events v3 (Enterprise)",
}


def _optional_check(client: HubSpotClient, stream: str) -> Check:
    """An optional stream's API: a refusal is a note saying what it needs and what leadflow
    reads instead, not a failure."""
    label, path, _, needs = OPTIONAL_APIS[stream]
    try:
        refusal = client.refusal(stream)
    except HubSpotError as exc:
        return Check(label, "fail", str(exc), "see the message")
    if refusal is None:
        return Check(label, "ok", f"GET {path}: the {stream} stream reads it")
    return Check(
        label,
        "warn",
        f"GET {path} answered {refusal}: the {stream} stream is skipped, nothing fails",
        f"{label} needs {needs}; without it, {INSTEAD[stream]}",
    )
