"""What each step of a run did, typed: written by the steps, stored as one JSON document per run
(leadflow.runs.stats), read back by the CLI, the report and the volume breaker.

Counts only: these travel through Airflow's XCom, which is not masked in logs, so no tokens
and no personal data go in here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypeVar

T = TypeVar("T")


def _known(cls: type[T], data: dict[str, Any] | None) -> T:
    """`cls` from a stored dict, ignoring keys it does not (or no longer) declare."""
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in (data or {}).items() if k in names})


@dataclass
class LoadStats:
    """One batch (or a stream's batches added up) written to raw."""

    received: int = 0
    changed: int = 0
    quarantined: int = 0
    # Loaded, but tied to no person (e.g. an activity with no contact): kept, never scored.
    unlinked: int = 0

    def add(self, other: LoadStats) -> None:
        self.received += other.received
        self.changed += other.changed
        self.quarantined += other.quarantined
        self.unlinked += other.unlinked


@dataclass
class ExtractStats:
    """One stream of one run: what was read and loaded, and what it cost in requests."""

    stream: str
    received: int = 0
    changed: int = 0
    quarantined: int = 0
    archived: int = 0
    merged: int = 0
    unlinked: int = 0  # as LoadStats.unlinked
    requests: int = 0
    throttled: int = 0
    retried: int = 0
    mode: str = ""
    # Why the source refused this optional stream (e.g. a tier or scope it lacks): it was
    # skipped, its cursor left where it was, and the run went on.
    unavailable: str = ""
    window_start: str = ""
    window_end: str = ""
    # The source's property list against the last run's: added / removed / retyped names.
    schema_changes: dict[str, list[Any]] = field(default_factory=dict)

    def add(self, load: LoadStats) -> None:
        self.received += load.received
        self.changed += load.changed
        self.quarantined += load.quarantined
        self.unlinked += load.unlinked

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExtractStats:
        return _known(cls, data)


@dataclass
class BuildStats:
    """The dbt build: its wall time and its nodes per status (success, pass, error, fail...)."""

    elapsed_s: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"elapsed_s": self.elapsed_s, **self.statuses}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> BuildStats:
        data = dict(data or {})
        return cls(float(data.pop("elapsed_s", 0.0)), {k: int(v) for k, v in data.items()})


@dataclass
class PushStats:
    """One push: rows changed, sent, rejected, restored, and what it cost."""

    changed: int = 0
    pushed: int = 0
    failed: int = 0
    created: int = 0
    cleared: int = 0
    recovered: int = 0
    dropped_properties: int = 0
    sql_pushed: int = 0
    new_sql: int = 0
    restored: int = 0
    recreated_properties: list[str] = field(default_factory=list)
    notes_written: int = 0
    tasks_written: int = 0
    activities_found: int = 0  # written by an earlier run that died before recording them
    activities_failed: int = 0
    nurture_added: int = 0
    nurture_removed: int = 0
    nurture_missing: int = 0
    batches: int = 0
    requests: int = 0
    seconds: float = 0.0
    rows_per_s: float | None = None
    sample_errors: dict[str, str] = field(default_factory=dict)

    def record_error(self, contact_id: int | str, error: str) -> None:
        if len(self.sample_errors) < 50:
            self.sample_errors[str(contact_id)] = error

    def finish(self, seconds: float) -> None:
        self.seconds = round(seconds, 3)
        self.rows_per_s = round(self.pushed / seconds, 1) if seconds else None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["sample_errors"] = dict(list(self.sample_errors.items())[:5])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> PushStats:
        return _known(cls, data)


@dataclass
class DryRunStats:
    """A push planned and not sent: how many contacts each action would touch."""

    create: int = 0
    update: int = 0
    skip: int = 0
    dry_run: bool = True

    @property
    def would_change(self) -> int:
        return self.create + self.update

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> DryRunStats:
        return _known(cls, data)


@dataclass
class RunStats:
    """One lead_sync run, as stored in leadflow.runs.stats."""

    extract: list[ExtractStats] = field(default_factory=list)
    dbt: BuildStats | None = None
    push: PushStats | DryRunStats | None = None
    stages: dict[str, int] = field(default_factory=dict)
    unattributed: dict[str, int] = field(default_factory=dict)  # by source type
    unmapped: dict[str, int] = field(default_factory=dict)  # history values no seed maps
    alerts: list[str] = field(default_factory=list)
    failed_tasks: list[str] = field(default_factory=list)

    @property
    def quarantined(self) -> int:
        return sum(e.quarantined for e in self.extract)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"extract": [e.as_dict() for e in self.extract]}
        if self.dbt is not None:
            data["dbt"] = self.dbt.as_dict()
        if self.push is not None:
            data["push"] = self.push.as_dict()
        if self.stages:
            data["stages"] = self.stages
        if self.unattributed:
            data["unattributed"] = self.unattributed
        if self.unmapped:
            data["unmapped"] = self.unmapped
        if self.alerts:
            data["alerts"] = self.alerts
        if self.failed_tasks:
            data["failed_tasks"] = self.failed_tasks
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> RunStats:
        data = data or {}
        push = data.get("push")
        return cls(
            extract=[ExtractStats.from_dict(e) for e in data.get("extract") or []],
            dbt=BuildStats.from_dict(data["dbt"]) if data.get("dbt") else None,
            push=None
            if not push
            else DryRunStats.from_dict(push)
            if push.get("dry_run")
            else PushStats.from_dict(push),
            stages={str(k): int(v) for k, v in (data.get("stages") or {}).items()},
            unattributed={str(k): int(v) for k, v in (data.get("unattributed") or {}).items()},
            unmapped={str(k): int(v) for k, v in (data.get("unmapped") or {}).items()},
            alerts=list(data.get("alerts") or []),
            failed_tasks=list(data.get("failed_tasks") or []),
        )
