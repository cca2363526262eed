"""The documents Vigil serves, declared once as typed dicts: application/health+json and /status.json.

The views build them (mypy checks every key); /openapi.json is generated from the same declarations
(app/api/documents.py), so the schema cannot drift from what is sent.
"""

from __future__ import annotations

from typing import NotRequired

from pydantic import ConfigDict, with_config
from typing_extensions import TypedDict

from app.config.fields import Area, Severity
from app.config.settings import ShowDetails
from app.model import State, Status

ObservedValue = float | int | str | bool | None
CLOSED = ConfigDict(extra="forbid")  # a key not declared here is a bug, and the schema says so

# -- application/health+json (draft-inadarei-api-health-check, with Vigil's extensions) ----------------------


@with_config(CLOSED)
class Observed(TypedDict):
    value: ObservedValue
    unit: str | None


@with_config(CLOSED)
class LastResult(TypedDict):
    status: Status
    duration: float
    scheduled: bool


# "from" is a Python keyword: the functional form.
EntryTransition = TypedDict("EntryTransition", {"time": str | None, "from": State, "to": State, "reason": str})
EntryTransition.__pydantic_config__ = CLOSED  # type: ignore[attr-defined]
DocumentTransition = TypedDict(
    "DocumentTransition", {"time": str | None, "check": str, "from": State, "to": State, "reason": str}
)
DocumentTransition.__pydantic_config__ = CLOSED  # type: ignore[attr-defined]


@with_config(CLOSED)
class ForecastEntry(TypedDict):
    measure: str
    limit: float
    limitName: str
    now: float
    ratePerSecond: float
    breachIn: float
    window: float
    points: int
    method: str


class EntryExtras(TypedDict, total=False):
    """The members of a check's entry that only some checks have (sent between `output` and the counters)."""

    affectedBy: list[str]
    observedValue: ObservedValue
    observedUnit: str
    observations: dict[str, Observed]
    lastResult: LastResult
    forecast: ForecastEntry


@with_config(CLOSED)
class CheckEntry(EntryExtras):
    """One check in a health+json document."""

    componentId: str
    componentType: str
    status: Status
    state: State
    severity: Severity
    area: Area
    time: str | None
    output: str
    consecutiveFailures: int
    lastSuccess: str | None
    availability: dict[str, float | None]
    transitions: list[EntryTransition]


@with_config(CLOSED)
class RunEntry(TypedDict):
    status: Status
    output: str
    cached: bool


@with_config(CLOSED)
class AreaEntry(TypedDict):
    title: str
    status: Status
    checks: NotRequired[list[str]]


@with_config(CLOSED)
class HealthDocument(TypedDict):
    """application/health+json. Without details (show_details) only `status` (and `areas` when asked) is present."""

    status: Status
    areas: NotRequired[dict[str, AreaEntry]]
    version: NotRequired[str]
    releaseId: NotRequired[str]
    serviceId: NotRequired[str]
    description: NotRequired[str]
    checks: NotRequired[dict[str, list[CheckEntry]]]
    transitions: NotRequired[list[DocumentTransition]]
    runs: NotRequired[dict[str, RunEntry]]


# -- /status.json (the status page's data) -----------------------------------------------------------------


@with_config(CLOSED)
class LastRunView(TypedDict):
    """The latest run where hysteresis does not report its status (yet): `runs` of `needed` in a row."""

    status: Status
    runs: int
    needed: int
    output: str | None  # with details only


@with_config(CLOSED)
class MaintenanceView(TypedDict):
    """The maintenance window open now: its name and when it ends (unix time)."""

    name: str
    until: float


@with_config(CLOSED)
class CheckRow(TypedDict):
    id: str
    name: str
    state: State
    severity: Severity
    stale: bool
    lastRun: float | None
    onDemand: bool
    failures: int
    output: str | None  # with details only, for a check that is not passing
    unconfirmed: LastRunView | None
    maintenance: MaintenanceView | None
    availability: dict[str, float | None]
    bar: str
    barProblems: list[list[int]]
    durations: list[float]


@with_config(CLOSED)
class ComponentView(TypedDict):
    name: str
    type: str
    status: Status
    checks: list[CheckRow]


@with_config(CLOSED)
class BlockingCheck(TypedDict):
    id: str
    state: State


@with_config(CLOSED)
class ReadinessView(TypedDict):
    ready: bool
    status: Status
    reason: str
    since: float  # wall clock since which `status` holds
    blocking: list[BlockingCheck]
    warning: list[str]  # checks that warn, or fail without gating readiness
    unconfirmed: list[str]  # checks whose latest run failed, below their failure threshold
    starting: bool


StatusTransition = TypedDict(
    "StatusTransition", {"at": float, "check": str, "from": State, "to": State, "reason": str | None}
)
StatusTransition.__pydantic_config__ = CLOSED  # type: ignore[attr-defined]


@with_config(CLOSED)
class BarMeta(TypedDict):
    start: float
    cellSeconds: float
    cells: int


StateCounts = TypedDict("StateCounts", {"pass": int, "warn": int, "fail": int, "pending": int})
StateCounts.__pydantic_config__ = CLOSED  # type: ignore[attr-defined]


@with_config(CLOSED)
class StatusDocument(TypedDict):
    """/status.json: readiness and why, counts, transitions, every check with its history."""

    version: int
    generated: float
    details: bool
    showDetails: ShowDetails
    detailsNote: str | None  # why outputs are hidden and how to see them; None when they are shown
    runsEnabled: bool
    readiness: ReadinessView
    counts: StateCounts
    total: int
    transitions: list[StatusTransition]
    bar: BarMeta | None
    components: list[ComponentView]
