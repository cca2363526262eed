"""The readiness rule, once: how a check's state and severity count towards a verdict, and that a Vigil shutting
down is not ready.

/readyz, /readyz?verbose, /health, the status page, the metrics and `vigil check` (its exit status, table, JSON and
JUnit) all call `verdict` or `assess`, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from app.config.fields import Severity
from app.model import Status

T = TypeVar("T")


def counts_as(state: Status | None, severity: Severity, *, strict: bool = False) -> Status:
    """What one check contributes to a verdict.

    Pending (no result yet) counts as fail. A failing degraded check only warns, unless `strict` (a named part of
    the system, or `vigil check --strict`), where every check gates like a critical one.
    """
    if state is None or state is Status.FAIL:
        return Status.FAIL if strict or severity is Severity.CRITICAL else Status.WARN
    return state


def verdict(
    checks: Iterable[tuple[Status | None, Severity]], *, strict: bool = False, shutting_down: bool = False
) -> Status:
    """The worst contribution: pass, warn, or fail (not ready). No checks at all is a pass; shutting down a fail."""
    if shutting_down:
        return Status.FAIL
    worst = Status.PASS
    for state, severity in checks:
        worst = worst.worst(counts_as(state, severity, strict=strict))
        if worst is Status.FAIL:
            break
    return worst


def is_ready(
    checks: Iterable[tuple[Status | None, Severity]], *, strict: bool = False, shutting_down: bool = False
) -> bool:
    return verdict(checks, strict=strict, shutting_down=shutting_down) is not Status.FAIL


@dataclass(frozen=True, slots=True)
class Assessment(Generic[T]):
    """A verdict and what it comes from: the checks that block readiness and those that only warn."""

    status: Status
    blocking: tuple[T, ...]  # count as fail: each one alone makes the verdict "not ready"
    warning: tuple[T, ...]  # count as warn
    shutting_down: bool

    @property
    def ready(self) -> bool:
        return self.status is not Status.FAIL


def assess(
    checks: Iterable[T],
    key: Callable[[T], tuple[Status | None, Severity]],
    *,
    strict: bool = False,
    shutting_down: bool = False,
) -> Assessment[T]:
    """`verdict` over `checks` (each read through `key`), keeping which of them block and which warn."""
    blocking: list[T] = []
    warning: list[T] = []
    for check in checks:
        contribution = counts_as(*key(check), strict=strict)
        if contribution is Status.FAIL:
            blocking.append(check)
        elif contribution is Status.WARN:
            warning.append(check)
    status = Status.FAIL if shutting_down or blocking else Status.WARN if warning else Status.PASS
    return Assessment(status, tuple(blocking), tuple(warning), shutting_down)
