"""Every setting leadflow reads, declared once (a field, its default, a one-line doc), and the one
module that reads them: Airflow connections for the systems, LEADFLOW_* env vars for the knobs.

A real deployment points the same code at real Postgres and real vendor accounts by defining
the connections (UI, secrets backend or `AIRFLOW_CONN_*` env vars); the demo and the tests set
those env vars to the embedded Postgres and the local sandboxes. A setting is a dataclass field
made with `setting()`: where it may come from (a connection extra key, an env var, which wins),
its default, bounds and doc. The README's settings table mirrors the declarations
(tests/test_settings.py keeps them equal).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from leadflow.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


# -- declaring ---------------------------------------------------------------------------------


def setting(
    default: Any,
    doc: str,
    *,
    extra: str | None = None,
    env: str | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
) -> Any:
    """A dataclass field that is a setting: read from the connection extra key `extra` and/or
    the env var `env` (which wins), else `default`; numbers are checked against the bounds."""
    meta = {"doc": doc, "extra": extra, "env": env, "minimum": minimum, "maximum": maximum}
    if isinstance(default, dict | list):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class Declared:
    """One declared setting, as the README's settings table lists it."""

    group: str
    name: str
    where: str  # "extra key", "env var", or both
    default: Any
    doc: str


def declared(cls: type) -> list[Declared]:
    """The settings `cls` declares (fields made with `setting()`)."""
    found = []
    for f in fields(cls):
        if "doc" not in f.metadata:
            continue
        meta = f.metadata
        where = " / ".join(
            part
            for part in (
                f"extra `{meta['extra']}`" if meta["extra"] else "",
                f"env `{meta['env']}`" if meta["env"] else "",
            )
            if part
        )
        group = getattr(cls, "label", cls.__name__)
        found.append(Declared(group, f.name, where, _default(f), meta["doc"]))
    return found


def _default(f: Field[Any]) -> Any:
    if f.default is not MISSING:
        return f.default
    return f.default_factory()  # type: ignore[misc]


# -- reading -----------------------------------------------------------------------------------

_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def parse_setting(
    where: str, raw: Any, kind: type, minimum: float | None = None, maximum: float | None = None
) -> Any:
    """`raw` (a string from an env var or a JSON value from a connection extra) as `kind`
    (int, float, bool, str, tuple of ints, dict), or a ConfigError naming `where` it came from
    and what it takes."""
    if kind is bool:
        text = str(raw).strip().lower()
        if isinstance(raw, bool) or text in _TRUE + _FALSE:
            return raw if isinstance(raw, bool) else text in _TRUE
        raise ConfigError(f"{where} is {raw!r}: expected true or false")
    if kind is str:
        return str(raw)
    if kind is dict:
        value = raw
        if isinstance(raw, str):
            try:
                value = json.loads(raw)
            except ValueError:
                value = None
        if not isinstance(value, dict):
            raise ConfigError(f'{where} is {raw!r}: expected a JSON object such as {{"a": "b"}}')
        return {str(k): str(v) for k, v in value.items()}
    if kind is tuple:  # of ints: [24, 168], or "24,168"
        parts = raw if isinstance(raw, list | tuple) else str(raw).split(",")
        return tuple(
            parse_setting(where, part, int, minimum, maximum) for part in parts if str(part).strip()
        )
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


def read(cls: type[T], extra: Mapping[str, Any] | None = None, where: str = "", **given: Any) -> T:
    """`cls` with every declared setting from its env var if set, else from `extra` (a
    connection's extra; `where` names that connection), else its default; `given` fills the
    fields that are not settings (a connection's host, its password)."""
    values = dict(given)
    for f in fields(cls):
        meta = f.metadata
        if "doc" not in meta:
            continue
        source, raw = None, None
        if meta["extra"] and extra is not None and meta["extra"] in extra:
            source, raw = f"'{meta['extra']}' in the extra of {where}", extra[meta["extra"]]
        if meta["env"] and meta["env"] in os.environ:
            source, raw = f"env var {meta['env']}", os.environ[meta["env"]]
        if source is not None:
            kind = type(_default(f))
            values[f.name] = parse_setting(source, raw, kind, meta["minimum"], meta["maximum"])
    return cls(**values)


def connection(conn_id: str) -> Any:
    """The Airflow connection `conn_id`, or a ConfigError that says what to fix."""
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


def connection_extra(conn_id: str) -> dict[str, Any]:
    """A connection's extra, or {} when there is no such connection (its reader says why)."""
    try:
        return dict(connection(conn_id).extra_dejson)
    except (ConfigError, ImportError):
        return {}


# -- the core's settings -----------------------------------------------------------------------


@dataclass(frozen=True)
class Connections:
    """Which Airflow connections leadflow reads for the systems the core talks to."""

    label: ClassVar[str] = "Airflow connection ids"

    postgres: str = setting(
        "leadflow_postgres", "the warehouse connection", env="LEADFLOW_POSTGRES_CONN_ID"
    )
    slack: str = setting(
        "leadflow_slack", "Slack incoming webhook for alerts", env="LEADFLOW_SLACK_CONN_ID"
    )
    smtp: str = setting(
        "leadflow_smtp", "SMTP server for alert e-mail", env="LEADFLOW_SMTP_CONN_ID"
    )


@dataclass(frozen=True)
class PostgresSettings:
    """The warehouse: any Postgres 14+ (the leadflow_postgres connection)."""

    label: ClassVar[str] = "warehouse connection"

    host: str
    port: int = 5432
    user: str = "postgres"
    password: str = field(default="", repr=False)
    dbname: str = "postgres"
    statement_timeout_s: int = setting(
        900,
        "every query's time limit, dbt's included",
        extra="statement_timeout_s",
        minimum=1,
    )
    # The default 4 MB spills per-contact sorts and aggregates to disk at a million contacts
    # (a few dbt threads stay far under 2 GB).
    dbt_work_mem_mb: int = setting(
        128, "sort/hash memory per dbt query node", extra="dbt_work_mem_mb", minimum=4
    )

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


def postgres_settings(conn_id: str | None = None) -> PostgresSettings:
    conn_id = conn_id or read(Connections).postgres
    conn = connection(conn_id)
    if not conn.host:
        raise ConfigError(f"Airflow connection '{conn_id}' has no host.")
    return read(
        PostgresSettings,
        conn.extra_dejson,
        f"Airflow connection '{conn_id}'",
        host=conn.host,
        port=parse_setting(
            f"the port of Airflow connection '{conn_id}'", conn.port or 5432, int, 1, 65535
        ),
        user=conn.login or "postgres",
        password=conn.password or "",
        dbname=conn.schema or "postgres",
    )


@dataclass(frozen=True)
class BreakerSettings:
    """When a push is held back for a person to check (`force_push` lets it through).

    With `min_history` earlier pushes on record: more changed rows or new SQLs than
    max(minimum, factor x their median). Before that, compared with what the CRM holds: more
    contacts moving into MQL or SQL than max(min_new_sqls, first_pushes_max_share x contacts).
    And the very first push to a CRM waits for a confirmation when `confirm_first_push`.
    """

    label: ClassVar[str] = "volume circuit breaker"

    factor: float = setting(
        5.0,
        "a push may be this many times the recent median",
        env="LEADFLOW_BREAKER_FACTOR",
        minimum=1,
    )
    min_rows: int = setting(
        500, "changed rows always allowed", env="LEADFLOW_BREAKER_MIN_ROWS", minimum=0
    )
    min_new_sqls: int = setting(
        50, "new SQLs always allowed", env="LEADFLOW_BREAKER_MIN_NEW_SQLS", minimum=0
    )
    history: int = setting(
        10,
        "recent successful pushes the median is taken over",
        env="LEADFLOW_BREAKER_HISTORY",
        minimum=1,
    )
    min_history: int = setting(
        3,
        "pushes on record before the median is trusted",
        env="LEADFLOW_BREAKER_MIN_HISTORY",
        minimum=1,
    )
    first_pushes_max_share: float = setting(
        0.1,
        "before that, the share of contacts a push may move into MQL or SQL",
        env="LEADFLOW_BREAKER_FIRST_PUSHES_MAX_SHARE",
        minimum=0,
        maximum=1,
    )
    confirm_first_push: bool = setting(
        True,
        "the first push to a CRM waits for `--force-push` after `leadflow plan`",
        env="LEADFLOW_BREAKER_CONFIRM_FIRST_PUSH",
    )


@dataclass(frozen=True)
class PushOptions:
    """Push behaviour a deployment chooses: in the CRM connection's extra, env vars override."""

    label: ClassVar[str] = "CRM connection (push)"

    create_missing: bool = setting(
        False,
        "upsert by email the contacts the CRM does not have (deleted, merged away)",
        extra="push_create_missing",
        env="LEADFLOW_PUSH_CREATE_MISSING",
    )
    allow_lifecycle_reset: bool = setting(
        False,
        "intended backward lifecycle moves (recycles) as clear-then-set; never for customers",
        extra="allow_lifecycle_reset",
        env="LEADFLOW_ALLOW_LIFECYCLE_RESET",
    )
    reset_targets: dict[str, str] = setting(
        {"nurture": "lead"},
        "leadflow stage -> the lifecycle value a reset moves it to",
        extra="lifecycle_reset_to",
        env="LEADFLOW_LIFECYCLE_RESET_TO",
    )
    handoff_notes: bool = setting(
        True,
        "write one hand-off note on each contact that enters SQL (marts.crm_handoff_notes)",
        extra="push_handoff_notes",
        env="LEADFLOW_PUSH_HANDOFF_NOTES",
    )
    handoff_task: bool = setting(
        False,
        "also a follow-up task for the owner, due at the SQL first-touch SLA deadline",
        extra="push_handoff_task",
        env="LEADFLOW_PUSH_HANDOFF_TASK",
    )
    nurture_list_id: str = setting(
        "",
        "the CRM's static (manual) list recycled leads are added to on entering nurture and"
        " removed from when they leave it; empty = none",
        extra="nurture_list_id",
        env="LEADFLOW_NURTURE_LIST_ID",
    )
    workers: int = setting(
        4,
        "batches in flight at once, all inside the shared rate budget",
        extra="push_workers",
        env="LEADFLOW_PUSH_WORKERS",
        minimum=1,
    )
    # A dead run's last requests can still be applied by the CRM after it died; recovery waits
    # until its in-flight marks are this old before reading them back, so such a request is not
    # sent twice (a re-run after a kill is usually Airflow's retry, minutes later anyway).
    inflight_settle_s: float = 30.0


@dataclass(frozen=True)
class AlertSettings:
    """Alert thresholds and fallbacks (the channels are the Connections above)."""

    label: ClassVar[str] = "alerts"

    quarantine_min: int = setting(
        1,
        "quarantined records in one run that raise an alert",
        env="LEADFLOW_ALERT_QUARANTINE_MIN",
        minimum=1,
    )
    email_to: str = setting(
        "",
        "alert recipients when the SMTP connection's extra has no `to`",
        env="LEADFLOW_ALERT_EMAIL_TO",
    )


@dataclass(frozen=True)
class Paths:
    """Where leadflow finds its project files and keeps local state (demo, local stack)."""

    label: ClassVar[str] = "paths"

    state_dir: str = setting(
        str(REPO_ROOT / ".leadflow"),
        "local state: embedded Postgres, Airflow home",
        env="LEADFLOW_STATE_DIR",
    )
    expectations_dir: str = setting(
        str(REPO_ROOT / "expectations"), "the GX suites", env="LEADFLOW_EXPECTATIONS_DIR"
    )
    dbt_project_dir: str = setting(
        str(REPO_ROOT / "dbt_project"), "the dbt project", env="LEADFLOW_DBT_PROJECT_DIR"
    )


def paths() -> Paths:
    return read(Paths)


CORE_SETTINGS: tuple[type, ...] = (
    Connections,
    PostgresSettings,
    BreakerSettings,
    PushOptions,
    AlertSettings,
    Paths,
)


def settings_table() -> str:
    """The README's settings table: every declared setting of the core and of each source."""
    from leadflow.sources import declared_settings

    groups = [*CORE_SETTINGS, *declared_settings()]
    lines = [
        "| group | setting | from | default | what it does |",
        "| --- | --- | --- | --- | --- |",
    ]
    for cls in groups:
        for d in declared(cls):
            default = json.dumps(list(d.default) if isinstance(d.default, tuple) else d.default)
            if d.name.endswith("_dir"):
                default = "(this repository)"
            lines.append(f"| {d.group} | {d.name} | {d.where} | `{default}` | {d.doc} |")
    return "\n".join(lines)
