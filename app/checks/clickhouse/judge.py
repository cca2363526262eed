"""Pure judgement of queries for the `clickhouse` checks: time budgets, SLAs and `SELECT 1`; no I/O, no clock.

The timeseries check is judged in `window`, the rollup check in `chain`; all three return findings or Outcomes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app import units
from app.checks import judging
from app.checks.clickhouse.config import ClickHouseQueryPerformance
from app.checks.judging import Finding, threshold
from app.model import Observation, Outcome, Status

DEADLINE_MARGIN = 0.1  # seconds kept back from the check's deadline so a timed-out query is reported by name
READONLY_ERROR = 164  # ClickHouse's code when it refuses a write (or a SET, a table function) under readonly=1


@dataclass(frozen=True, slots=True)
class Budget:
    seconds: float
    own_timeout: bool  # the query's own timeout is the bound, not the check's deadline


def query_budget(remaining: float, timeout: float | None) -> Budget | None:
    """The time one query gets: what is left before the deadline, less the margin, capped by its own timeout.

    None when no time is left: the query is not run at all.
    """
    seconds = remaining - DEADLINE_MARGIN
    if seconds <= 0:
        return None
    if timeout is not None and timeout < seconds:
        return Budget(timeout, own_timeout=True)
    return Budget(seconds, own_timeout=False)


def not_run(label: str) -> str:
    return f"{label} not run: no time left before the check's deadline"


def connectivity(row: Sequence[Any], rtt: float, latency_warn: float | None) -> Outcome:
    """`SELECT 1, version(), uptime()`'s row and its round trip."""
    one, version, uptime = row
    if one != 1:
        return Outcome(Status.FAIL, f"SELECT 1 returned {one!r}")
    observed = (
        Observation("latency", round(rtt, 6), "s"),
        Observation("server_version", str(version)),
        Observation("uptime", int(uptime), "s"),
    )
    if (slow := judging.latency("SELECT 1", rtt, latency_warn)) is not None:
        return Outcome(*slow, observed)
    return Outcome(Status.PASS, f"SELECT 1 in {units.latency(rtt)} from ClickHouse {version}", observed)


@dataclass(frozen=True, slots=True)
class QueryRun:
    """What became of one configured query. All fields None: it was not run, no time was left."""

    elapsed: float | None = None  # it finished, in this many seconds
    cancelled: str | None = None  # it was cancelled: the client's wording of why
    error: tuple[int, str] | None = None  # the server refused or failed it: (code, message)
    blocked: str | None = None  # not started: an earlier query of the check still runs on the server (why)


def query_finding(name: str, sla: float, warn_fraction: float, run: QueryRun) -> Finding:
    """Fail at the SLA, on an error, when cancelled or not run; warn at `warn_fraction` of the SLA."""
    if run.cancelled is not None:
        return Status.FAIL, f"{run.cancelled}, SLA {units.latency(sla)}"
    if run.error is not None:
        code, text = run.error
        verb = "refused by the server" if code == READONLY_ERROR else "failed"
        return Status.FAIL, f"query {name} {verb}: {text} (code {code})"
    if run.blocked is not None:
        return Status.FAIL, f"query {name} not run: {run.blocked}"
    if run.elapsed is None:
        return Status.FAIL, not_run(f"query {name}")
    said = f"query {name} took {units.latency(run.elapsed)}"
    found = threshold(run.elapsed, said, warn=warn_fraction * sla, fail=sla, shown=units.latency, limit="SLA")
    return found or (Status.PASS, "")


def query_performance(
    options: ClickHouseQueryPerformance, runs: Mapping[str, QueryRun], observed: list[Observation]
) -> Outcome:
    """Every configured query's finding (queries not started for one reason share one); when all pass, each one's
    time against its SLA."""
    findings: list[Finding] = []
    timings = []
    blocked: dict[str, list[str]] = {}  # reason -> the queries it kept from starting
    for name, query in options.queries.items():
        run = runs.get(name, QueryRun())
        if run.blocked is not None:
            blocked.setdefault(run.blocked, []).append(name)
            continue
        findings.append(query_finding(name, query.sla, options.warn_fraction, run))
        if run.elapsed is not None:
            timings.append(f"{name} {units.latency(run.elapsed)} of {units.latency(query.sla)}")
    for reason, names in blocked.items():
        findings.append(
            (Status.FAIL, f"{'query' if len(names) == 1 else 'queries'} {', '.join(names)} not run: {reason}")
        )
    count = len(options.queries)
    ok = f"{count} {'query' if count == 1 else 'queries'} within SLA: {', '.join(timings)}"
    return Outcome.from_findings(findings, observed, ok=ok)
