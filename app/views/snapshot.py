"""What a scrape reads: the store's numbers for every check, copied on the event loop (each check's together).

The collector (app.views.metrics) and the text writer (app.views.exposition) both format a Snapshot, never the
live store, so a render in a worker thread reads a copy that does not move.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import NamedTuple

from app.config.fields import Severity
from app.config.maintenance import open_window
from app.engine.slices import in_slices
from app.engine.store import CheckState, Store
from app.model import CheckResult, Status
from app.views.causes import root_cause


class CheckSample(NamedTuple):
    """One check's numbers at one instant: counters copied together, so a histogram's buckets, sum and count agree.
    A NamedTuple: a snapshot makes 1,000 of them on the event loop per scrape, and a tuple is the cheapest to build."""

    component: str
    check: str
    component_type: str
    severity: Severity
    area: str
    effective: Status | None
    stale: bool
    runs: tuple[int, ...]  # per Status, in Status order
    unjudged: int
    duration_counts: tuple[int, ...]
    duration_sum: float
    consecutive_failures: int
    lag: float
    last: CheckResult | None  # immutable
    last_success_at: float | None
    forecast: tuple[str, float] | None  # (measure, seconds to breach)
    cause: str | None  # while failing: the component whose outage explains it (its own when a root cause)
    maintenance: bool  # inside one of its maintenance windows now


@dataclass(frozen=True, slots=True)
class Snapshot:
    checks: tuple[CheckSample, ...]
    ready: bool
    reload_ok: bool = True  # the last configuration reload was applied
    reload_success_at: float = 0.0  # wall clock of the configuration in use


def take_snapshot(store: Store) -> Snapshot:
    """Copy what the metrics need in one piece; call it on the event loop, where the scheduler writes the store."""
    now = time.time()
    return _snapshot(store, tuple(sample(store, state, now) for state in store.states.values()))


async def snapshot_in_slices(store: Store) -> Snapshot:
    """The same copy a slice at a time, so thousands of checks never hold the loop in one piece (15 ms at 5,000).
    Each check's numbers are still copied together; checks are copied within a few milliseconds of each other."""
    now = time.time()
    return _snapshot(
        store, tuple([sample(store, state, now) async for state in in_slices(list(store.states.values()))])
    )


def _snapshot(store: Store, checks: tuple[CheckSample, ...]) -> Snapshot:
    return Snapshot(checks, store.ready, store.reload_ok, store.reload_success_at)


def sample(store: Store, state: CheckState, now: float) -> CheckSample:
    """One check's numbers, copied together (a histogram's buckets, sum and count agree)."""
    return CheckSample(
        state.component,
        state.check,
        state.component_type,
        state.severity,
        state.spec.area.value,
        state.effective,
        state.stale,
        tuple(state.runs.values()),  # made in Status order (Store)
        state.unjudged,
        tuple(state.duration_counts),
        state.duration_sum,
        state.consecutive_failures,
        state.lag,
        state.last,
        state.last_success_at,
        None if state.forecast is None else (state.forecast.measure, state.forecast.breach_in),
        root_cause(store, state) if state.effective is Status.FAIL else None,
        bool(state.spec.maintenance) and open_window(state.spec.maintenance, now) is not None,
    )
