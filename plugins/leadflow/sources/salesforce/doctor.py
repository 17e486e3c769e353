"""`leadflow doctor`'s Salesforce checks: the connection, the login, the API version, the daily
allocation, every field leadflow reads (visible to the integration user) and writes (there and
editable). leadflow creates no metadata: for a field that is missing it prints the definition an
admin creates, and for one it cannot edit, the permission to grant. Nothing is written."""

from __future__ import annotations

import dataclasses

from leadflow.doctor import Check
from leadflow.errors import ConfigError, ServiceUnreachable
from leadflow.sources.salesforce.client import SalesforceApiError, SalesforceClient
from leadflow.sources.salesforce.fields import FIELDS, WRITTEN_OBJECTS
from leadflow.sources.salesforce.objects import READ
from leadflow.sources.salesforce.settings import SalesforceSettings, conn_id, salesforce_settings

_FLS = (
    "in Setup, give the integration user's permission set {access} access to {fields} on "
    "{object} (Object Manager > {object} > Fields & Relationships > Set Field-Level Security)"
)


def checks(settings: SalesforceSettings | None = None) -> list[Check]:
    name = f"connection {conn_id()}"
    try:
        settings = settings or salesforce_settings()
    except ConfigError as exc:
        return [Check(name, "fail", "not usable", str(exc))]
    results = [Check(name, "ok", f"{settings.base_url}, API v{settings.api_version}")]
    quick = dataclasses.replace(settings, max_attempts=2, timeout_s=min(settings.timeout_s, 10.0))
    with SalesforceClient(quick) as client:
        try:
            client.login()
        except (ConfigError, ServiceUnreachable) as exc:
            return [*results, Check("login (client credentials)", "fail", "refused", str(exc))]
        results.append(Check("login (client credentials)", "ok", f"instance {client.instance_url}"))
        try:
            _version(client, results)
            _allocation(client, results)
            for obj in READ:
                _readable(client, obj.name, obj.fields, results)
            for obj in WRITTEN_OBJECTS:
                _writable(client, obj, results)
        except SalesforceApiError as exc:
            results.append(Check("Salesforce API", "fail", "an error answer", str(exc)))
    return results


def _version(client: SalesforceClient, results: list[Check]) -> None:
    served = client.versions()
    wanted = client.settings.api_version
    if wanted in served:
        results.append(
            Check("API version", "ok", f"v{wanted} (the org serves up to v{served[-1]})")
        )
    else:
        results.append(
            Check(
                "API version",
                "fail",
                f"v{wanted} is not served (the org serves v{served[0]} to v{served[-1]})",
                f"set the connection extra 'api_version' to one of them, e.g. \"{served[-1]}\"",
            )
        )


def _allocation(client: SalesforceClient, results: list[Check]) -> None:
    daily = client.limits().get("DailyApiRequests", {})
    allowed, left = int(daily.get("Max", 0)), int(daily.get("Remaining", 0))
    reserve = client.reserve(allowed)
    status = "ok" if left > reserve else "warn"
    results.append(
        Check(
            "daily API allocation",
            status,
            f"{left:,} of {allowed:,} requests left; leadflow stops at {reserve:,.0f}",
            "runs wait for the rolling 24-hour allocation to recover, or lower "
            "'api_reserve_percent'",
        )
    )


def _fields(client: SalesforceClient, sobject: str) -> dict[str, dict]:
    return {f["name"]: f for f in client.describe(sobject)["fields"]}


def _readable(
    client: SalesforceClient, sobject: str, wanted: tuple[str, ...], results: list[Check]
) -> None:
    try:
        fields = _fields(client, sobject)
    except SalesforceApiError as exc:
        results.append(
            Check(
                f"read {sobject}",
                "fail",
                f"describe refused ({exc.status} {exc.category})",
                f"give the integration user Read access to {sobject}",
            )
        )
        return
    missing = [f for f in wanted if f not in fields]
    if missing:
        text = ", ".join(missing)
        results.append(
            Check(
                f"read {sobject}",
                "fail",
                f"{len(missing)} field(s) not visible: {text}",
                _FLS.format(access="Read", fields=text, object=sobject),
            )
        )
    else:
        results.append(Check(f"read {sobject}", "ok", f"{len(wanted)} fields"))


def _writable(client: SalesforceClient, sobject: str, results: list[Check]) -> None:
    fields = _fields(client, sobject)
    missing = [f for f in FIELDS if f.name not in fields]
    locked = [f.name for f in FIELDS if f.name in fields and not fields[f.name]["updateable"]]
    if missing:
        definitions = "\n      ".join(f.definition() for f in missing)
        results.append(
            Check(
                f"write {sobject}",
                "fail",
                f"{len(missing)} of leadflow's {len(FIELDS)} custom fields are missing",
                f"create them on {sobject} (Setup > Object Manager > {sobject} > Fields & "
                f"Relationships > New), then grant the integration user Edit:\n      "
                f"{definitions}",
            )
        )
    elif locked:
        text = ", ".join(locked)
        results.append(
            Check(
                f"write {sobject}",
                "fail",
                f"not editable by the integration user: {text}",
                _FLS.format(access="Edit", fields=text, object=sobject),
            )
        )
    else:
        results.append(Check(f"write {sobject}", "ok", f"{len(FIELDS)} custom fields, editable"))
