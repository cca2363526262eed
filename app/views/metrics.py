"""A Prometheus collector that reads the store at scrape time; no metric is updated anywhere else.

Labels come only from configuration (component, check names, types) and code (status, measure names). The
numbers are copied on the event loop (the store's only writer runs there) and formatted in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import platform
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from gzip import compress

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
from app.engine.singleflight import SingleFlight
from app.engine.statefile import WriteCounts
from app.engine.store import DURATION_BUCKETS, Store
from app.model import Status
from app.views import metricnames as m
from app.views.exposition import TextWriter
from app.views.metricnames import measure_name
from app.views.snapshot import CheckSample, Snapshot, snapshot_in_slices, take_snapshot

__all__ = [
    "BuildCollector",
    "CheckSample",
    "Exposition",
    "Snapshot",
    "VigilCollector",
    "build_exposition",
    "take_snapshot",
]


def _gauge(name: m.MetricName) -> GaugeMetricFamily:
    return GaugeMetricFamily(name.family, name.help, labels=name.labels)


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
        up, status, info, stale = _gauge(m.UP), _gauge(m.STATUS), _gauge(m.INFO), _gauge(m.STALE)
        observed, last_run, last_success = _gauge(m.OBSERVED), _gauge(m.LAST_RUN), _gauge(m.LAST_SUCCESS)
        failures, lag, forecast = _gauge(m.FAILURES), _gauge(m.LAG), _gauge(m.FORECAST)
        cause, maintenance = _gauge(m.CAUSE), _gauge(m.MAINTENANCE)
        runs = CounterMetricFamily(m.RUNS.family, m.RUNS.help, labels=m.RUNS.labels)
        unjudged = CounterMetricFamily(m.UNJUDGED.family, m.UNJUDGED.help, labels=m.UNJUDGED.labels)
        duration = HistogramMetricFamily(m.DURATION.family, m.DURATION.help, labels=m.DURATION.labels)
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
        ready, reload_ok, reload_at = _gauge(m.READY), _gauge(m.RELOAD_OK), _gauge(m.RELOAD_AT)
        ready.add_metric([], 1.0 if snapshot.ready else 0.0)
        reload_ok.add_metric([], 1.0 if snapshot.reload_ok else 0.0)
        reload_at.add_metric([], snapshot.reload_success_at)
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
            reload_ok,
            reload_at,
        )


class BuildCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        build = InfoMetricFamily(m.BUILD.family, m.BUILD.help)
        build.add_metric([], {"version": __version__, "python": platform.python_version()})
        yield build


class StateFileCollector(Collector):
    def __init__(self, counts: WriteCounts) -> None:
        self.counts = counts

    def collect(self) -> Iterator[Metric]:
        writes = CounterMetricFamily(m.STATE_WRITES.family, m.STATE_WRITES.help, labels=m.STATE_WRITES.labels)
        writes.add_metric(["ok"], self.counts.ok)
        writes.add_metric(["error"], self.counts.error)
        yield writes


class Exposition:
    """Renders /metrics in a worker thread, so a large scrape never stalls probes on the event loop; scrapes
    arriving while a render of the same format runs share it (single-flight), so scrapers cannot pile up CPU work.
    Vigil's numbers are copied on the loop first (`snapshot_in_slices`), so the thread never reads a moving store.

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
        snapshot = None if collector is None else await snapshot_in_slices(collector.store)  # on the loop

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

    def forget(self) -> None:
        """Drop the label text prepared per check (a reload removed or changed checks)."""
        self.writer = TextWriter()

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)


def build_exposition(store: Store, state_writes: WriteCounts | None = None) -> Exposition:
    """Registries of its own per app (no global one): Vigil's collector, the build info, the state file's writes
    and the process's."""
    registry = CollectorRegistry(auto_describe=False)
    collector = VigilCollector(store)
    registry.register(collector)
    exposition = Exposition(registry, collector)
    for target in (registry, exposition.others):
        target.register(BuildCollector())
        target.register(StateFileCollector(state_writes or WriteCounts()))
        ProcessCollector(registry=target)
    return exposition
