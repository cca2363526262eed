"""How one run changes a check's reported state: kubelet-style thresholds and latched failures (pure functions).

The store keeps the counts and the latch; these decide. Unit-tested without a store or a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from app.config.fields import Schedule
from app.model import CheckResult, Status


@dataclass(frozen=True, slots=True)
class Latch:
    """A latched failure (Outcome.latch): reported as it was for `runs_left` more runs, whatever they find."""

    reason: str
    runs_left: int


def reported_state(
    reported: Status | None, status: Status, failures: int, successes: int, schedule: Schedule
) -> Status | None:
    """Kubelet semantics: fail after failure_threshold failures in a row, ok after success_threshold passes.

    `reported` is the state before this run (None: pending), `failures`/`successes` the runs in a row including it.
    """
    if status.ok:
        if reported is not None and reported.ok:
            return status  # already ok: follow pass/warn directly
        if successes >= schedule.success_threshold:
            return status
        return reported  # still fail (or pending) until enough passes
    if reported is None or not reported.ok:
        return Status.FAIL  # never was ok, or already failing
    if failures >= schedule.failure_threshold:
        return Status.FAIL
    return reported


def apply_latch(latch: Latch | None, result: CheckResult, failure_threshold: int) -> tuple[CheckResult, Latch | None]:
    """A latched failure is reported at once and held for failure_threshold runs in all (hysteresis would
    otherwise absorb a failure that is seen once), each of them failing with the latched reason first.

    Returns the result as it is to be kept, and the latch that holds after it."""
    if result.latch is not None and result.status is Status.FAIL:
        return result, Latch(result.latch, failure_threshold - 1)
    if latch is None:
        return result, None
    if latch.runs_left <= 0:
        return result, None
    output = latch.reason if result.status is Status.PASS else f"{latch.reason}; {result.output}"
    held = replace(result, status=Status.FAIL, output=output, latch=latch.reason)
    return held, replace(latch, runs_left=latch.runs_left - 1)
