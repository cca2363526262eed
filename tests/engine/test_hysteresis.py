"""How one run changes a check's reported state (app/engine/hysteresis.py): pure functions, no store, no clock."""

from __future__ import annotations

import pytest

from app.config.fields import Schedule, Severity
from app.engine.hysteresis import Latch, apply_latch, reported_state
from app.model import CheckResult, Status

P, W, F = Status.PASS, Status.WARN, Status.FAIL
SCHEDULE = Schedule(15.0, 5.0, 0.0, failure_threshold=3, success_threshold=2, severity=Severity.CRITICAL)


def walk(statuses: list[Status], reported: Status | None = None) -> list[Status | None]:
    """The reported state after each run, counting runs in a row as the store does."""
    seen = []
    failures = successes = 0
    for status in statuses:
        failures, successes = (0, successes + 1) if status.ok else (failures + 1, 0)
        reported = reported_state(reported, status, failures, successes, SCHEDULE)
        seen.append(reported)
    return seen


def test_pending_becomes_fail_at_once_and_ok_after_success_threshold() -> None:
    assert walk([F]) == [F]
    assert walk([P, P]) == [None, P]
    assert walk([W, P]) == [None, P]


def test_an_ok_check_fails_after_failure_threshold_failures_in_a_row() -> None:
    assert walk([F, F, P, F, F, F], reported=P) == [P, P, P, P, P, F]


def test_an_ok_check_follows_pass_and_warn_directly() -> None:
    assert walk([W, P, W], reported=P) == [W, P, W]


def test_a_failing_check_recovers_after_success_threshold_passes() -> None:
    assert walk([P, F, P, P], reported=F) == [F, F, F, P]


def result(status: Status, output: str, latch: str | None = None) -> CheckResult:
    return CheckResult("c", "x", "redis", status, output, (), 1_000_000.0, 0.01, latch=latch)


def test_a_latched_failure_is_held_for_failure_threshold_runs() -> None:
    kept, latch = apply_latch(None, result(F, "sessions lost", latch="sessions lost"), 3)
    assert kept.status is F and latch == Latch("sessions lost", 2)
    held, latch = apply_latch(latch, result(P, "all good"), 3)
    assert (held.status, held.output, latch) == (F, "sessions lost", Latch("sessions lost", 1))
    held, latch = apply_latch(latch, result(W, "slow"), 3)
    assert (held.status, held.output, latch) == (F, "sessions lost; slow", Latch("sessions lost", 0))
    free, latch = apply_latch(latch, result(P, "all good"), 3)
    assert (free.status, free.output, latch) == (P, "all good", None)


@pytest.mark.parametrize("status", [P, W, F])
def test_no_latch_changes_nothing(status: Status) -> None:
    run = result(status, "as found")
    assert apply_latch(None, run, 3) == (run, None)
