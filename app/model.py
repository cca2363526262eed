"""The values that flow from a check to its readers: CheckId, Status, State, Observation, Outcome and CheckResult.

A check returns an Outcome; the scheduler stamps it into a CheckResult; the store keeps results.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple


class CheckId(NamedTuple):
    """A check's identity: its component's name and its own. Written `component:check` in URLs, logs and reports."""

    component: str
    check: str

    def __str__(self) -> str:
        return f"{self.component}:{self.check}"

    @classmethod
    def parse(cls, text: str) -> CheckId | None:
        component, sep, check = text.partition(":")
        return cls(component, check) if sep and component and check else None


class Status(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"

    @property
    def ok(self) -> bool:
        return self is not Status.FAIL

    def worst(self, other: Status) -> Status:
        order = (Status.PASS, Status.WARN, Status.FAIL)
        return self if order.index(self) >= order.index(other) else other


class State(StrEnum):
    """A check's state as readers show it: its reported Status, or pending before it has one."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    PENDING = "pending"

    @classmethod
    def of(cls, status: Status | None) -> State:
        return cls.PENDING if status is None else cls(status.value)


@dataclass(frozen=True, slots=True)
class Limit:
    """The limit a check compares an observed value against: where it fails. `falling`: the value fails when it
    drops to the limit (time left on a certificate), else when it rises to it (memory, latency, lag)."""

    value: float
    name: str  # how a person calls it: "maxmemory", "its 5 s SLA", "the 7-day fail threshold"
    falling: bool = False


@dataclass(frozen=True, slots=True)
class Observation:
    """One measured value, e.g. `Observation("latency", 0.003, "s")`. Names come from code, never from data.

    A value that the check judges against a limit declares it (`limit`), so Vigil can forecast when it is reached.
    """

    name: str
    value: float | int | str | bool | None
    unit: str | None = None
    limit: Limit | None = None


Finding = tuple[Status, str]  # one judgement of a check: its status and the sentence that says why (see checks.judging)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a check function returns."""

    status: Status
    output: str = ""
    observed: tuple[Observation, ...] = ()
    # The reason of a failure that happens once and will not be seen again (data lost in a restart): the store
    # reports it at once, past hysteresis, and keeps reporting it for `failure_threshold` runs in all.
    latch: str | None = None

    @classmethod
    def from_findings(cls, findings: list[Finding], observed: list[Observation], ok: str = "ok") -> Outcome:
        """Worst status of several findings; output lists the non-pass ones, worst first."""
        status = Status.PASS
        for finding_status, _ in findings:
            status = status.worst(finding_status)
        problems = [text for s, text in sorted(findings, key=lambda f: f[0] != Status.FAIL) if s is not Status.PASS]
        return cls(status, "; ".join(problems) if problems else ok, tuple(observed))


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One run of one check, as the scheduler recorded it."""

    component: str
    check: str
    component_type: str
    status: Status
    output: str
    observed: tuple[Observation, ...]
    started_at: float  # wall clock, seconds since the epoch
    duration: float  # seconds
    scheduled: bool = True  # False when an operator asked for the run
    latch: str | None = None  # see Outcome.latch

    @property
    def check_id(self) -> CheckId:
        return CheckId(self.component, self.check)

    @property
    def finished_at(self) -> float:
        return self.started_at + self.duration
