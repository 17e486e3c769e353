"""The source systems leadflow reads and writes back to, one package each (hubspot/,
salesforce/), and the small typed interface through which the core (pipeline,
loader, gates, push, CLI, report, doctor) speaks to them.

A package owns everything vendor-specific: its client (every endpoint it calls), its streams
(what is extracted, cursors, how records map to raw tables), its write-back (for a CRM), its
doctor checks, its settings and its sandbox. Adding a source is adding a package that provides
a `Source` (and, for a CRM, a `Crm`), and naming it in `PACKAGES`; a deployment lists the
ones it reads in LEADFLOW_SOURCES.
"""

from __future__ import annotations

import argparse
import importlib
import re
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from leadflow.errors import ConfigError
from leadflow.settings import read, setting

if TYPE_CHECKING:
    from leadflow.doctor import Check
    from leadflow.settings import PostgresSettings, PushOptions
    from leadflow.stats import ExtractStats


@dataclass
class PushPlan:
    """One changed contact: what it was, what it should be, what will be sent and why.

    The core fills what it knows (the diff, the reasons); the CRM's session decides the
    payload by its own rules (`CrmSession.decide`).
    """

    contact_id: int
    email: str | None
    current_lifecyclestage: str | None
    before: dict[str, Any] | None
    after: dict[str, Any]
    payload: dict[str, str] = field(default_factory=dict)
    clear_lifecycle: bool = False  # the CRM must clear the lifecycle value before setting it
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    create: bool = False  # not in the CRM; upserted by email (a dry run checks)
    # Another contact of the outgoing list has the same email: an upsert by it would write
    # this contact's values onto that one, so it is never upserted.
    email_shared: bool = False

    @property
    def action(self) -> str:
        if not self.payload:
            return "skip"
        return "create" if self.create else "update"

    @property
    def lifecycle_after(self) -> str | None:
        return self.payload.get("lifecyclestage") or self.current_lifecyclestage


@dataclass
class Outcome:
    """What the CRM said about one batch: errors per contact id, created ids, cleared count."""

    errors: dict[int, str] = field(default_factory=dict)
    created: dict[int, str] = field(default_factory=dict)
    cleared: int = 0


@dataclass(frozen=True)
class Activity:
    """A note or task leadflow writes on a contact's timeline, once per key: the body carries the
    line `leadflow ref <ref>`, by which a write a dead run made is found again."""

    key: str  # "<kind>:<ref>", what leadflow.crm_activities records
    kind: str  # "note" or "task"
    ref: str  # the hand-off note_key
    contact_id: int
    owner_id: str | None  # the CRM's id of the owner
    at: datetime  # where it sits on the timeline (a note) or when it is due (a task)
    body: str
    subject: str = ""


_REF = re.compile(r"leadflow ref ([A-Za-z0-9:_-]+)")


def ref_of(body: Any) -> str | None:
    """The ref of an activity body's `leadflow ref <ref>` line, or None when it has none."""
    match = _REF.search(str(body or ""))
    return match.group(1) if match else None


@dataclass
class ActivityOutcome:
    """What the CRM said about one batch of activities: ids created and errors, by key."""

    created: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class ListChange:
    """What the CRM did with one membership change: the ids it added and removed, and those it
    ignored because it has no such record."""

    added: list[int] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)


class CrmSession(Protocol):
    """One push's (or dry run's) conversation with the CRM."""

    requests_sent: int

    def prepare(self, create_missing: bool) -> dict[str, str]:
        """Read what the CRM accepts (creating leadflow's properties when `create_missing`);
        return a version per leadflow property (its definition's creation time), by which a
        property deleted and created again is told from the one values were written to."""

    def decide(self, plan: PushPlan, options: PushOptions) -> None:
        """Fill `plan.payload` (and notes) by the CRM's rules for `plan.after`."""

    def exists(self, contact_ids: list[int]) -> set[int]:
        """The ids the CRM has (≤ one batch)."""

    def send(self, batch: list[PushPlan], options: PushOptions) -> Outcome:
        """Write one batch; per-record rejections come back in the outcome, not as errors."""

    def read_back(self, contact_ids: list[int], names: list[str]) -> dict[int, dict[str, Any]]:
        """The named properties of ≤ one batch of contacts, as the CRM holds them."""

    def holds(self, name: str, sent: str, held: Any) -> bool:
        """Does `held` (read back) equal `sent`, as the CRM normalises that property?"""

    def create_activities(self, batch: list[Activity]) -> ActivityOutcome:
        """Write ≤ one batch of notes or tasks (one kind), each associated with its contact."""

    def find_activities(self, batch: list[Activity]) -> dict[str, str]:
        """Of ≤ one batch (one kind), those the CRM already has on their contact: key -> id."""

    def change_list(self, list_id: str, add: list[int], remove: list[int]) -> ListChange:
        """Add and remove contacts of a static list (≤ list_batch_size ids in all)."""


# The held relation's columns per leadflow property, as the staging models name them (the
# arguments of leadflow.plan.outgoing_values).
HELD_COLUMNS = {
    "stage": "crm_leadflow_stage",
    "score": "trim_scale(crm_leadflow_score)",
    "grade": "crm_leadflow_fit_grade",
    "reasons": "crm_leadflow_reasons",
    "entered_at": "crm_leadflow_stage_entered_at",
    "stage_reason": "crm_leadflow_stage_reason",
}


class Crm(Protocol):
    """The write-back side of a source: the CRM the push writes to."""

    batch_size: int
    list_batch_size: int  # contact ids per list membership change
    # A relation (dbt staging) with one row per contact as last read from the CRM: contact_id,
    # loaded_at, and one column per leadflow property holding the CRM's value of it.
    held_relation: str
    held_columns: dict[str, str]  # HELD_COLUMNS where it names them as staging does

    def extra(self) -> dict[str, Any]:
        """Its connection's extra: the push options a deployment set there."""

    def session(self) -> AbstractContextManager[CrmSession]: ...


class Sandbox(Protocol):
    """A local stand-in for a source, speaking its API over HTTP (the demo, the tests, the
    local stack), so the same connector talks to it and to the real service."""

    tiers: Sequence[str]  # the subscription tiers it can stand in for, e.g. a vendor's editions
    default_tier: str

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """`leadflow sandbox <source>`'s options."""

    def serve(self, args: argparse.Namespace) -> None:
        """Serve in the foreground until interrupted."""

    def demo(
        self, seed: int, contacts: int, now: datetime, tier: str | None = None
    ) -> AbstractContextManager[dict[str, str]]:
        """A seeded instance as of `now` (on `tier`, else its default) for the demo; yields the
        connection env vars that point the source's connection at it."""

    def stack_env(self) -> dict[str, str]:
        """The connection env vars that point at the local stack's sandbox."""


class Source(Protocol):
    """A system leadflow extracts from, as the core sees it."""

    name: str
    streams: Sequence[str]
    raw_suites: Sequence[str]  # the blocking GX suites over what its streams load
    settings: Sequence[type]  # its declared settings (the README's table)

    def schema_sql(self) -> str:
        """DDL of its raw tables; idempotent, run before every task."""

    def extract(
        self, stream: str, pg: PostgresSettings, start: datetime, end: datetime, load_id: str
    ) -> ExtractStats:
        """Load `stream` for the data interval [start, end) under `load_id`."""

    def ping(self) -> None:
        """Prove its connection works (one quick authenticated request), or raise an error
        that says what to fix, before anything long starts."""

    def checks(self) -> list[Check]:
        """`leadflow doctor`'s checks of this source: connection, token, scopes, schema."""

    def crm(self) -> Crm | None:
        """Its write-back side, when leadflow pushes to it."""

    def sandbox(self) -> Sandbox:
        """Its local stand-in."""


# Every source package, by name: the class that is its Source (imported only when used).
PACKAGES = {
    "hubspot": "leadflow.sources.hubspot:HubSpot",
    "salesforce": "leadflow.sources.salesforce:Salesforce",
}


@dataclass(frozen=True)
class SourceSettings:
    label: ClassVar[str] = "Sources"

    sources: str = setting(
        "hubspot",
        "the source systems this deployment reads, comma-separated, the CRM first "
        f"(of {', '.join(PACKAGES)})",
        env="LEADFLOW_SOURCES",
    )


def _source(name: str) -> Source:
    module, _, cls = PACKAGES[name].partition(":")
    return getattr(importlib.import_module(module), cls)()


def configured() -> list[Source]:
    """The sources this deployment reads (LEADFLOW_SOURCES), in the order it names them."""
    names = [n.strip().lower() for n in read(SourceSettings).sources.split(",") if n.strip()]
    unknown = [n for n in names if n not in PACKAGES]
    if unknown or not names:
        raise ConfigError(
            f"LEADFLOW_SOURCES names {', '.join(unknown) or 'no source'}: list some of "
            f"{', '.join(PACKAGES)}, comma-separated."
        )
    return [_source(n) for n in dict.fromkeys(names)]


def sandboxes() -> dict[str, Sandbox]:
    """Every source package's sandbox, by vendor, configured or not (a sandbox needs no
    account); the configured sources' come first."""
    first = [s.name for s in configured()]
    return {n: _source(n).sandbox() for n in [*first, *(p for p in PACKAGES if p not in first)]}


def declared_settings() -> list[type]:
    """Every source package's settings, configured or not (the README's table)."""
    return [SourceSettings, *(cls for name in PACKAGES for cls in _source(name).settings)]


def crm() -> Crm:
    """The CRM the push writes to: the first configured source, whose people dbt qualifies
    (macro crm_source reads the same setting)."""
    first = configured()[0]
    found = first.crm()
    if found is None:
        raise ConfigError(
            f"LEADFLOW_SOURCES lists {first.name} first, as the CRM, but leadflow cannot write "
            f"back to {first.name}: list first a source it writes back to."
        )
    return found


def named(name: str) -> Source:
    """The configured source called `name`."""
    for source in configured():
        if source.name == name:
            return source
    raise ValueError(f"unknown source {name!r}; configured: {[s.name for s in configured()]}")


def source_of(stream: str) -> Source:
    """The configured source that has `stream`."""
    for source in configured():
        if stream in source.streams:
            return source
    known = [s for source in configured() for s in source.streams]
    raise ValueError(f"unknown stream {stream!r}; expected one of {known}")
