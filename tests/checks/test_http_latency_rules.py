"""Percentiles and the latency judgement (app/checks/http/latency_rules.py), without a server."""

from __future__ import annotations

from collections import Counter

import pytest

from app.checks.http.latency_rules import PathRun, judge, observations, percentile, summary
from app.model import Status


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 21)]  # 1..20
    assert (percentile(values, 0.5), percentile(values, 0.95), percentile(values, 0.99)) == (10.0, 19.0, 20.0)
    assert percentile([0.3, 0.1, 0.2], 0.5) == 0.2  # order does not matter
    assert percentile([7.0], 0.99) == 7.0
    with pytest.raises(ValueError):
        percentile([], 0.5)


def run(latencies: list[float], errors: dict[str, int] | None = None, planned: int = 10) -> PathRun:
    return PathRun("api", "/api", 0.2, planned, latencies, Counter(errors or {}))


def test_p95_against_the_budget_and_the_warn_fraction() -> None:
    assert judge(run([0.01] * 10), 0.8, 0) == []
    assert judge(run([0.01] * 9 + [0.17]), 0.8, 0) == [
        (
            Status.WARN,
            "api (/api): p95 170 ms (p50 10 ms, p99 170 ms, 10 answers), at or above the 160 ms warn threshold "
            "of its 200 ms budget",
        )
    ]
    assert judge(run([0.01] * 8 + [0.3, 0.3]), 0.8, 0) == [
        (Status.FAIL, "api (/api): p95 300 ms (p50 10 ms, p99 300 ms, 10 answers), at or above the 200 ms budget")
    ]
    assert summary(run([0.01] * 10)) == "api (/api): p95 10 ms within 200 ms (p50 10 ms, p99 10 ms)"


def test_errors_and_unfinished_requests_are_named() -> None:
    both = judge(run([0.01] * 5, {"HTTP 503": 2, "no answer within 1 s": 1}), 0.8, 0)
    assert both == [
        (Status.FAIL, "api (/api): only 8 of 10 requests done before the check's deadline"),
        (Status.FAIL, "api (/api): 3 of 10 requests failed (HTTP 503 x2, no answer within 1 s x1)"),
    ]
    assert judge(run([0.01] * 9, {"HTTP 503": 1}), 0.8, 1) == []  # within max_errors
    nothing = run([], {"cannot connect: Connection refused": 10})
    assert judge(nothing, 0.8, 0) == [
        (Status.FAIL, "api (/api): 10 of 10 requests failed (cannot connect: Connection refused x10)")
    ]
    assert summary(nothing) == "api (/api): no answers"
    assert [(o.name, o.value) for o in observations(nothing)] == [("api_errors", 10)]


def test_observations_declare_the_budget_on_p95() -> None:
    seen = {o.name: o for o in observations(run([0.01] * 10))}
    assert set(seen) == {"api_p50", "api_p95", "api_p99", "api_errors"}
    assert seen["api_p95"].limit is not None and seen["api_p95"].limit.value == 0.2
    assert seen["api_p50"].limit is None and seen["api_p95"].unit == "s"
