"""A Prometheus collector that reads the store at scrape time; no metric is updated anywhere else.

Labels come only from configuration (component, check names, types) and code (status, measure names).
"""

from __future__ import annotations

import asyncio
import platform
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from app import __version__
from app.model import Status
from app.singleflight import SingleFlight
from app.store import DURATION_BUCKETS, Store

_UNIT_SUFFIX = {"s": "seconds", "bytes": "bytes", "ratio": "ratio", "rows": "rows"}


def measure_name(name: str, unit: str | None) -> str:
    suffix = _UNIT_SUFFIX.get(unit or "")
    if suffix and not name.endswith(suffix):
        return f"{name}_{suffix}"
    return name


class VigilCollector(Collector):
    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        labels = ["component", "check"]
        up = GaugeMetricFamily("vigil_check_up", "1 when the check's reported state is pass or warn, else 0.", labels=labels)
        status = GaugeMetricFamily(
            "vigil_check_status", "Reported state of the check, one series per status.", labels=[*labels, "status"]
        )
        info = GaugeMetricFamily(
            "vigil_check_info", "Static facts about a configured check.", labels=[*labels, "type", "severity"]
        )
        stale = GaugeMetricFamily("vigil_check_stale", "1 when the last result is older than 2*interval+timeout.", labels=labels)
        runs = CounterMetricFamily(
            "vigil_check_runs", "Check runs by raw result (the availability SLI).", labels=[*labels, "status"]
        )
        duration = HistogramMetricFamily("vigil_check_duration_seconds", "How long check runs took.", labels=labels)
        observed = GaugeMetricFamily(
            "vigil_check_observed", "Numeric values the check observed on its last run.", labels=[*labels, "measure"]
        )
        last_run = GaugeMetricFamily(
            "vigil_check_last_run_timestamp_seconds", "When the last run finished (unix time).", labels=labels
        )
        last_success = GaugeMetricFamily(
            "vigil_check_last_success_timestamp_seconds", "When the last pass or warn finished (unix time).", labels=labels
        )
        failures = GaugeMetricFamily(
            "vigil_check_consecutive_failures", "Failed runs in a row.", labels=labels
        )
        lag = GaugeMetricFamily(
            "vigil_scheduler_lag_seconds", "How late the last scheduled run of the check started.", labels=labels
        )
        for state in self.store.states.values():
            key = [state.component, state.check]
            effective = state.effective
            up.add_metric(key, 1.0 if effective is not None and effective.ok else 0.0)
            for s in Status:
                status.add_metric([*key, s.value], 1.0 if effective is s else 0.0)
            info.add_metric([*key, state.component_type, state.schedule.severity.value], 1.0)
            stale.add_metric(key, 1.0 if state.stale else 0.0)
            for s in Status:
                runs.add_metric([*key, s.value], state.runs[s])
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
        ready = GaugeMetricFamily("vigil_ready", "1 when every critical check is pass or warn (what /readyz says).")
        ready.add_metric([], 1.0 if self.store.ready else 0.0)
        build = InfoMetricFamily("vigil_build", "Vigil's version.")
        build.add_metric([], {"version": __version__, "python": platform.python_version()})
        yield from (up, status, info, stale, runs, duration, observed, last_run, last_success, failures, lag, ready, build)


class Exposition:
    """Renders the registry for /metrics in a worker thread, so a large scrape never stalls probes on the event
    loop; scrapes arriving while a render runs share it (single-flight), so scrapers cannot pile up CPU work.
    The collector only reads counters and immutable results, which is safe beside the loop."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._flight: SingleFlight[bytes] = SingleFlight()

    async def render(self) -> bytes:
        return await self._flight.do(lambda: asyncio.to_thread(generate_latest, self.registry))


def build_registry(store: Store) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(VigilCollector(store))
    ProcessCollector(registry=registry)
    return registry
