"""How a `latency` run is judged, as pure functions: nearest-rank percentiles, p95 against the path's budget, the
errors and the requests that did not finish in time, each named with its path."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from app import units
from app.checks.judging import Finding, threshold
from app.model import Limit, Observation, Status


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest rank: the smallest value with at least `q` (0-1) of the values at or below it."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass(slots=True)
class PathRun:
    """One path's requests in one run."""

    name: str
    path: str
    budget: float  # seconds
    planned: int
    latencies: list[float] = field(default_factory=list)  # seconds, of the answers with an expected status
    errors: Counter[str] = field(default_factory=Counter)  # what went wrong -> how often

    @property
    def label(self) -> str:
        return f"{self.name} ({self.path or '/'})"

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    @property
    def unfinished(self) -> int:
        return self.planned - len(self.latencies) - self.failed

    def percentiles(self) -> tuple[float, float, float] | None:
        if not self.latencies:
            return None
        return percentile(self.latencies, 0.5), percentile(self.latencies, 0.95), percentile(self.latencies, 0.99)


def judge(run: PathRun, warn_fraction: float, max_errors: int) -> list[Finding]:
    findings: list[Finding] = []
    if run.unfinished:
        findings.append(
            (
                Status.FAIL,
                f"{run.label}: only {run.planned - run.unfinished} of {run.planned} requests done before the "
                "check's deadline",
            )
        )
    if run.failed > max_errors:
        kinds = ", ".join(f"{what} x{count}" for what, count in run.errors.most_common())
        findings.append((Status.FAIL, f"{run.label}: {run.failed} of {run.planned} requests failed ({kinds})"))
    shares = run.percentiles()
    if shares is None:
        return findings
    p50, p95, p99 = shares
    spread = f"p50 {units.latency(p50)}, p99 {units.latency(p99)}, {units.plural(len(run.latencies), 'answer')}"
    said = f"{run.label}: p95 {units.latency(p95)} ({spread})"
    found = threshold(p95, said, warn=warn_fraction * run.budget, fail=run.budget, shown=units.latency, limit="budget")
    return findings if found is None else [*findings, found]


def summary(run: PathRun) -> str:
    shares = run.percentiles()
    if shares is None:
        return f"{run.label}: no answers"
    p50, p95, p99 = shares
    return (
        f"{run.label}: p95 {units.latency(p95)} within {units.latency(run.budget)} "
        f"(p50 {units.latency(p50)}, p99 {units.latency(p99)})"
    )


def observations(run: PathRun) -> list[Observation]:
    observed = [Observation(f"{run.name}_errors", run.failed)]
    if (shares := run.percentiles()) is not None:
        budget = Limit(run.budget, f"its {units.latency(run.budget)} budget")
        for label, value in zip(("p50", "p95", "p99"), shares, strict=True):
            observed.append(
                Observation(f"{run.name}_{label}", round(value, 6), "s", budget if label == "p95" else None)
            )
    return observed
