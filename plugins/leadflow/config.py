"""Where leadflow's settings come from: Airflow connections and env vars, nothing else.

Real deployments point the same code at real Postgres and real HubSpot by defining the two
connections (UI, secrets backend or `AIRFLOW_CONN_*` env vars); the demo and the tests set
those env vars to the embedded Postgres and the local sandbox.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

POSTGRES_CONN_ID = os.environ.get("LEADFLOW_POSTGRES_CONN_ID", "leadflow_postgres")
HUBSPOT_CONN_ID = os.environ.get("LEADFLOW_HUBSPOT_CONN_ID", "hubspot_default")
HUBSPOT_API_URL = "https://api.hubapi.com"


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message says what to fix."""

    retryable = False  # a retry finds the same setting


class ServiceUnreachable(ConfigError):
    """A configured server did not answer: a setting to check, or an outage a retry outlives."""

    retryable = True


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def parse_setting(
    where: str, raw: Any, kind: type, minimum: float | None = None, maximum: float | None = None
) -> Any:
    """`raw` (a string from an env var or a JSON value from a connection extra) as `kind`
    (int, float or bool), or a ConfigError naming `where` it came from and what it takes."""
    if kind is bool:
        text = str(raw).strip().lower()
        if isinstance(raw, bool) or text in _TRUE + _FALSE:
            return raw if isinstance(raw, bool) else text in _TRUE
        raise ConfigError(f"{where} is {raw!r}: expected true or false")
    try:
        if isinstance(raw, bool):
            raise ValueError
        value = kind(raw)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{where} is {raw!r}: expected a{'n integer' if kind is int else ' number'}"
        ) from None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        bounds = (
            f"between {minimum} and {maximum}"
            if minimum is not None and maximum is not None
            else f"at least {minimum}"
            if minimum is not None
            else f"at most {maximum}"
        )
        raise ConfigError(f"{where} is {raw!r}: it must be {bounds}")
    return value


def env_setting(
    name: str,
    default: Any,
    kind: type | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
) -> Any:
    """The env var `name` parsed like parse_setting, or `default` when it is unset."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    return parse_setting(f"env var {name}", raw, kind or type(default), minimum, maximum)


@dataclass(frozen=True)
class PostgresSettings:
    host: str
    port: int = 5432
    user: str = "postgres"
    password: str = field(default="", repr=False)
    dbname: str = "postgres"
    statement_timeout_s: int = 900
    # Sort/hash memory per dbt query node: the default 4 MB spills per-contact sorts and
    # aggregates to disk at a million contacts (a few dbt threads stay far under 2 GB).
    dbt_work_mem_mb: int = 128

    def conninfo(self) -> dict[str, Any]:
        """psycopg connect kwargs; a host starting with '/' is a unix socket directory."""
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "dbname": self.dbname,
            "connect_timeout": 10,
            "options": f"-c statement_timeout={self.statement_timeout_s * 1000}",
        }

    def sqlalchemy_url(self) -> str:
        """URL for GX's SQL datasource (SQLAlchemy + psycopg2); sockets go in the query string."""
        from sqlalchemy.engine import URL

        if self.host.startswith("/"):
            url = URL.create(
                "postgresql+psycopg2",
                username=self.user,
                password=self.password or None,
                database=self.dbname,
                query={"host": self.host, "port": str(self.port)},
            )
        else:
            url = URL.create(
                "postgresql+psycopg2",
                username=self.user,
                password=self.password or None,
                host=self.host,
                port=self.port,
                database=self.dbname,
            )
        return url.render_as_string(hide_password=False)

    def dbt_env(self) -> dict[str, str]:
        """Env vars read by dbt_project/profiles.yml; PGOPTIONS bounds every dbt query's time
        and gives its sorts room."""
        return {
            "LEADFLOW_PG_HOST": self.host,
            "LEADFLOW_PG_PORT": str(self.port),
            "LEADFLOW_PG_USER": self.user,
            "LEADFLOW_PG_PASSWORD": self.password,
            "LEADFLOW_PG_DBNAME": self.dbname,
            "PGOPTIONS": f"-c statement_timeout={self.statement_timeout_s * 1000}"
            f" -c work_mem={self.dbt_work_mem_mb}MB",
        }


@dataclass(frozen=True)
class HubSpotSettings:
    base_url: str = HUBSPOT_API_URL
    token: str = field(default="", repr=False)
    rate_limit_per_10s: int = 100
    search_rate_per_s: int = 4
    timeout_s: float = 30.0
    max_attempts: int = 8
    backoff_s: float = 0.5
    # HubSpot lists events by occurrence time only, so an event it records late lies behind
    # the cursor: every run re-reads this much before it, and one hour at each of these lags,
    # and keeps the events it has not seen (an event recorded up to the largest lag late is
    # caught; each lag costs one more hour of events per run).
    events_lookback_minutes: int = 120
    events_rescan_hours: tuple[int, ...] = (24, 168)


def _connection(conn_id: str) -> Any:
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException as exc:
        env = f"AIRFLOW_CONN_{conn_id.upper()}"
        value = os.environ.get(env)
        if value is not None:  # defined, but Airflow could not read it
            why = "Airflow cannot read it as a connection"
            if value.lstrip().startswith("{"):
                try:
                    json.loads(value)
                except ValueError as bad:
                    why = f"it is not valid JSON ({bad})"
            raise ConfigError(
                f"{env} is set, but {why}: fix its value (see README, 'Point it at real systems')."
            ) from exc
        raise ConfigError(
            f"Airflow connection '{conn_id}' is not defined. Create it in the Airflow UI or set "
            f"{env} (see README, 'Point it at real systems')."
        ) from exc


def _extra(conn: Any, conn_id: str, name: str, default: Any, kind: type, **bounds: Any) -> Any:
    """One setting from a connection's extra, checked (ConfigError says which and why)."""
    where = f"'{name}' in the extra of Airflow connection '{conn_id}'"
    return parse_setting(where, conn.extra_dejson.get(name, default), kind, **bounds)


def postgres_settings(conn_id: str = POSTGRES_CONN_ID) -> PostgresSettings:
    conn = _connection(conn_id)
    if not conn.host:
        raise ConfigError(f"Airflow connection '{conn_id}' has no host.")
    return PostgresSettings(
        host=conn.host,
        port=parse_setting(
            f"the port of Airflow connection '{conn_id}'", conn.port or 5432, int, 1, 65535
        ),
        user=conn.login or "postgres",
        password=conn.password or "",
        dbname=conn.schema or "postgres",
        statement_timeout_s=_extra(conn, conn_id, "statement_timeout_s", 900, int, minimum=1),
    )


def hubspot_settings(conn_id: str = HUBSPOT_CONN_ID) -> HubSpotSettings:
    """HubSpot private-app token in the connection's password; tunables in its extra."""
    conn = _connection(conn_id)
    if not conn.password:
        raise ConfigError(
            f"Airflow connection '{conn_id}' has no password: put the HubSpot private-app "
            "access token there."
        )
    host = conn.host or HUBSPOT_API_URL
    if not host.startswith("http"):
        host = f"https://{host}"
    if conn.port:
        host = f"{host}:{conn.port}"
    rescan = conn.extra_dejson.get("events_rescan_hours", HubSpotSettings.events_rescan_hours)
    if not isinstance(rescan, list | tuple):  # "24,168" or a single number
        rescan = [part for part in str(rescan).split(",") if part.strip()]
    return HubSpotSettings(
        base_url=host.rstrip("/"),
        token=conn.password,
        rate_limit_per_10s=_extra(conn, conn_id, "rate_limit_per_10s", 100, int, minimum=1),
        search_rate_per_s=_extra(conn, conn_id, "search_rate_per_s", 4, int, minimum=1),
        timeout_s=_extra(conn, conn_id, "timeout_s", 30.0, float, minimum=1),
        max_attempts=_extra(conn, conn_id, "max_attempts", 8, int, minimum=1),
        backoff_s=_extra(conn, conn_id, "backoff_s", 0.5, float, minimum=0),
        events_lookback_minutes=_extra(
            conn, conn_id, "events_lookback_minutes", 120, int, minimum=0
        ),
        events_rescan_hours=tuple(
            parse_setting(
                f"'events_rescan_hours' in the extra of Airflow connection '{conn_id}'",
                hours,
                int,
                minimum=1,
            )
            for hours in rescan
        ),
    )
