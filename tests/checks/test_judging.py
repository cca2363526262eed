"""The judging kit: one comparison (at the limit reaches it), one wording, non-finite values refused."""

from __future__ import annotations

import math

import pytest

from app import units
from app.checks import judging
from app.model import Status


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.5, None),
        (0.79, None),
        (0.8, (Status.WARN, "load 80%, at or above the 80% warn threshold")),
        (0.9, (Status.WARN, "load 90%, at or above the 80% warn threshold")),
        (0.95, (Status.FAIL, "load 95%, at or above the 95% fail threshold")),
        (1.2, (Status.FAIL, "load 120%, at or above the 95% fail threshold")),
    ],
)
def test_rising_limits_are_reached_at_their_value(value: float, expected: judging.Finding | None) -> None:
    said = f"load {units.percent(value)}"
    assert judging.threshold(value, said, warn=0.8, fail=0.95, shown=units.percent) == expected


@pytest.mark.parametrize(
    ("left", "status"),
    [
        (30 * 86400, None),
        (21 * 86400, Status.WARN),
        (10 * 86400, Status.WARN),
        (7 * 86400, Status.FAIL),
        (60, Status.FAIL),
    ],
)
def test_falling_limits_are_reached_at_their_value(left: float, status: Status | None) -> None:
    found = judging.threshold(left, "expires", warn=21 * 86400, fail=7 * 86400, shown=units.span, falling=True)
    assert (found and found[0]) == status
    if found is not None:
        assert "at or below the" in found[1]


def test_a_named_limit_reads_in_both_findings() -> None:
    said = "query q took 900 ms"
    assert judging.threshold(0.9, said, warn=0.8, fail=1.0, shown=units.latency, limit="SLA") == (
        Status.WARN,
        "query q took 900 ms, at or above the 800 ms warn threshold of its 1 s SLA",
    )
    assert judging.threshold(1.0, "query q took 1 s", warn=0.8, fail=1.0, shown=units.latency, limit="SLA") == (
        Status.FAIL,
        "query q took 1 s, at or above the 1 s SLA",
    )


def test_missing_limits_judge_nothing() -> None:
    assert judging.threshold(10.0, "x", warn=None, fail=None, shown=str) is None
    assert judging.threshold(10.0, "x", warn=None, fail=5.0, shown=str) == (
        Status.FAIL,
        "x, at or above the 5.0 fail threshold",
    )
    assert judging.threshold(10.0, "x", warn=5.0, fail=None, shown=str) == (
        Status.WARN,
        "x, at or above the 5.0 warn threshold",
    )


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_value_that_is_not_a_finite_number_fails_with_a_sentence(value: float) -> None:
    for falling in (False, True):
        found = judging.threshold(value, "CPU", warn=0.5, fail=0.9, shown=units.percent, falling=falling)
        assert found == (Status.FAIL, "CPU: not a finite number, so it cannot be judged")
    assert judging.finite("process_cpu_seconds_total", value) == (
        f"process_cpu_seconds_total read as {value!r}, not a finite number"
    )
    assert judging.finite("x", 1.5) is None


def test_one_latency_finding_for_every_type() -> None:
    """Configured limits as configured (`200ms`), the measured time as a latency (`250 ms`)."""
    assert judging.latency("PING", 0.1, 0.2) is None
    assert judging.latency("PING", 0.1, None) is None
    assert judging.latency("PING", 0.25, 0.2) == (Status.WARN, "PING took 250 ms, at or above the 200ms warn threshold")
    assert judging.latency("PING", 0.2, 0.2) == (Status.WARN, "PING took 200 ms, at or above the 200ms warn threshold")
    assert judging.latency("GET", 1.5, 0.2, 1.0) == (Status.FAIL, "GET took 1.5 s, at or above the 1s budget")
