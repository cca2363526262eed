"""A Prometheus collector that reads the store at scrape time; no metric is updated anywhere else.

Labels come only from configuration (component, check names, types) and code (status, measure names). The
numbers are copied on the event loop (the store's only writer runs there) and formatted in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import platform
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from gzip import compress
from typing import NamedTuple

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.registry import Collector

from app import __version__
from app.config.fields import Severity
from app.config.maintenance import open_window
from app.engine.singleflight import SingleFlight
from app.engine.store import DURATION_BUCKETS, Store
from app.model import CheckResult, Status
from app.views.causes import root_cause
from app.views.exposition import CAUSE_HELP, MAINTENANCE_HELP, TextWriter, measure_name


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


def take_snapshot(store: Store) -> Snapshot:
    """Copy what the metrics need; call it on the event loop, where the scheduler writes the store."""
    now = time.time()
    return Snapshot(
        tuple(
            CheckSample(
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
            for state in store.states.values()
        ),
        store.ready,
    )


class VigilCollector(Collector):
    def __init__(self, store: Store) -> None:
        self.store = store
        self._pinned = threading.local()

    @contextlib.contextmanager
    def pinned(self, snapshot: Snapshot) -> Iterator[None]:
        """Collect from `snapshot` (taken on the loop) in this thread, instead of reading the live store."""
        self._pinned.snapshot = snapshot
        try:
            yield
        finally:
            self._pinned.snapshot = None

    def collect(self) -> Iterator[Metric]:
        snapshot: Snapshot | None = getattr(self._pinned, "snapshot", None)
        if snapshot is None:
            snapshot = take_snapshot(self.store)
        labels = ["component", "check"]
        up = GaugeMetricFamily(
            "vigil_check_up", "1 when the check's reported state is pass or warn, else 0.", labels=labels
        )
        status = GaugeMetricFamily(
            "vigil_check_status", "Reported state of the check, one series per status.", labels=[*labels, "status"]
        )
        info = GaugeMetricFamily(
            "vigil_check_info", "Static facts about a configured check.", labels=[*labels, "type", "severity", "area"]
        )
        stale = GaugeMetricFamily(
            "vigil_check_stale", "1 when the last result is older than 2*interval+timeout.", labels=labels
        )
        runs = CounterMetricFamily(
            "vigil_check_runs", "Check runs by raw result (the availability SLI).", labels=[*labels, "status"]
        )
        unjudged = CounterMetricFamily(
            "vigil_check_runs_unjudged",
            "Scheduled runs Vigil was too late to judge (its own event loop stalled); not in vigil_check_runs_total.",
            labels=labels,
        )
        duration = HistogramMetricFamily("vigil_check_duration_seconds", "How long check runs took.", labels=labels)
        observed = GaugeMetricFamily(
            "vigil_check_observed", "Numeric values the check observed on its last run.", labels=[*labels, "measure"]
        )
        last_run = GaugeMetricFamily(
            "vigil_check_last_run_timestamp_seconds", "When the last run finished (unix time).", labels=labels
        )
        last_success = GaugeMetricFamily(
            "vigil_check_last_success_timestamp_seconds",
            "When the last pass or warn finished (unix time).",
            labels=labels,
        )
        failures = GaugeMetricFamily("vigil_check_consecutive_failures", "Failed runs in a row.", labels=labels)
        lag = GaugeMetricFamily(
            "vigil_scheduler_lag_seconds", "How late the last scheduled run of the check started.", labels=labels
        )
        forecast = GaugeMetricFamily(
            "vigil_check_forecast_seconds",
            "Time until an observed value reaches its limit at the current rate (only while one is predicted).",
            labels=[*labels, "measure"],
        )
        maintenance = GaugeMetricFamily("vigil_check_maintenance", MAINTENANCE_HELP, labels=labels)
        cause = GaugeMetricFamily(
            "vigil_check_cause",
            CAUSE_HELP,
            labels=[*labels, "cause", "root"],
        )
        for state in snapshot.checks:
            key = [state.component, state.check]
            effective = state.effective
            up.add_metric(key, 1.0 if effective is not None and effective.ok else 0.0)
            for s in Status:
                status.add_metric([*key, s.value], 1.0 if effective is s else 0.0)
            info.add_metric([*key, state.component_type, state.severity.value, state.area], 1.0)
            stale.add_metric(key, 1.0 if state.stale else 0.0)
            for s, count in zip(Status, state.runs, strict=True):
                runs.add_metric([*key, s.value], count)
            unjudged.add_metric(key, state.unjudged)
            cumulative = 0
            buckets = []
            for bound, count in zip(DURATION_BUCKETS, state.duration_counts, strict=True):
                cumulative += count
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
            duration.add_metric(key, buckets, state.duration_sum)
            failures.add_metric(key, state.consecutive_failures)
            lag.add_metric(key, state.lag)
            if state.last is not None:
                last_run.add_metric(key, state.last.finished_at)
                for obs in state.last.observed:
                    if isinstance(obs.value, bool | int | float):
                        observed.add_metric([*key, measure_name(obs.name, obs.unit)], float(obs.value))
            if state.last_success_at is not None:
                last_success.add_metric(key, state.last_success_at)
            if state.forecast is not None:
                forecast.add_metric([*key, state.forecast[0]], state.forecast[1])
            maintenance.add_metric(key, 1.0 if state.maintenance else 0.0)
            if state.cause is not None:
                cause.add_metric([*key, state.cause, str(state.cause == state.component).lower()], 1.0)
        ready = GaugeMetricFamily("vigil_ready", "1 when every critical check is pass or warn (what /readyz says).")
        ready.add_metric([], 1.0 if snapshot.ready else 0.0)
        yield from (
            up,
            status,
            info,
            stale,
            runs,
            unjudged,
            duration,
            observed,
            last_run,
            last_success,
            failures,
            lag,
            forecast,
            cause,
            maintenance,
            ready,
        )


class BuildCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        build = InfoMetricFamily("vigil_build", "Vigil's version.")
        build.add_metric([], {"version": __version__, "python": platform.python_version()})
        yield build


class Exposition:
    """Renders /metrics in a worker thread, so a large scrape never stalls probes on the event loop; scrapes
    arriving while a render of the same format runs share it (single-flight), so scrapers cannot pile up CPU work.
    Vigil's numbers are copied on the loop first (`take_snapshot`), so the thread never reads a moving store.

    The text format (what Prometheus asks for by default) comes from TextWriter, several times faster than
    prometheus_client's generic path; OpenMetrics, when a scraper asks for it, from prometheus_client.
    The thread is its own, not the loop's default executor: blocking name lookups (getaddrinfo of a hung
    resolver, ~10 s each) queue there, and a scrape must never wait behind them.
    """

    def __init__(self, registry: CollectorRegistry, collector: VigilCollector | None = None) -> None:
        self.registry = registry  # everything, for OpenMetrics (and the reference the text writer is tested against)
        self.collector = collector
        self.others = CollectorRegistry(auto_describe=False)  # what the text writer does not write itself
        self.writer = TextWriter()
        self._flights: dict[tuple[bool, bool], SingleFlight[bytes]] = {}
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vigil-metrics")

    async def render(self, *, openmetrics: bool = False, gzip: bool = False) -> bytes:
        flight = self._flights.setdefault((openmetrics, gzip), SingleFlight())
        return await flight.do(lambda: self._render(openmetrics, gzip))

    async def _render(self, openmetrics: bool, gzip: bool) -> bytes:
        loop = asyncio.get_running_loop()
        collector = self.collector
        snapshot = None if collector is None else take_snapshot(collector.store)  # on the loop

        def generate() -> bytes:
            if collector is None or snapshot is None:
                body = (generate_openmetrics if openmetrics else generate_latest)(self.registry)
            elif openmetrics:
                with collector.pinned(snapshot):
                    body = generate_openmetrics(self.registry)  # type: ignore[no-untyped-call]
            else:
                body = self.writer.render(snapshot).encode() + generate_latest(self.others)
            return compress(body, compresslevel=1) if gzip else body

        return await loop.run_in_executor(self._thread, generate)

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)


def build_exposition(store: Store) -> Exposition:
    """Registries of its own per app (no global one): Vigil's collector, the build info and the process's."""
    registry = CollectorRegistry(auto_describe=False)
    collector = VigilCollector(store)
    registry.register(collector)
    exposition = Exposition(registry, collector)
    for target in (registry, exposition.others):
        target.register(BuildCollector())
        ProcessCollector(registry=target)
    return exposition
