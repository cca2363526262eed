"""The readiness rule, once: how a check's state and severity count towards a verdict.

/readyz, /readyz?verbose, /health, the metrics and `vigil check` all call `verdict`, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterable

from app.config.fields import Severity
from app.model import Status


def counts_as(state: Status | None, severity: Severity, *, strict: bool = False) -> Status:
    """What one check contributes to a verdict.

    Pending (no result yet) counts as fail. A failing degraded check only warns, unless `strict` (a named part of
    the system, or `vigil check --strict`), where every check gates like a critical one.
    """
    if state is None or state is Status.FAIL:
        return Status.FAIL if strict or severity is Severity.CRITICAL else Status.WARN
    return state


def verdict(checks: Iterable[tuple[Status | None, Severity]], *, strict: bool = False) -> Status:
    """The worst contribution: pass, warn, or fail (not ready). No checks at all is a pass."""
    worst = Status.PASS
    for state, severity in checks:
        worst = worst.worst(counts_as(state, severity, strict=strict))
        if worst is Status.FAIL:
            break
    return worst


def is_ready(checks: Iterable[tuple[Status | None, Severity]], *, strict: bool = False) -> bool:
    return verdict(checks, strict=strict) is not Status.FAIL
