"""The /metrics text format written straight from a Snapshot, with each check's label text prepared once.

prometheus_client's generic path builds a Metric and a Sample object per series and escapes every label on every
scrape; at 1,000 checks (about 30 series each) that is most of a scrape's cost. Labels here come only from
configuration, so their text is fixed per check and cached. The output parses to the same families and samples
as `generate_latest` over VigilCollector (tests compare the two; the benchmark measures both).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from prometheus_client.utils import floatToGoString as _untyped_float

from app.engine.store import DURATION_BUCKETS
from app.model import CheckId, Status

MAINTENANCE_HELP = (
    "1 while the check is inside one of its maintenance windows (its alerts stay quiet; readiness does not change)."
)
CAUSE_HELP = (
    "1 while the check fails: cause is the component whose outage explains it, root is true when that is its own."
)

floatToGoString = cast(Callable[[float], str], _untyped_float)  # prometheus_client's own value formatting

_BUCKET_BOUNDS = tuple("+Inf" if b == float("inf") else floatToGoString(b) for b in DURATION_BUCKETS)
_UNIT_SUFFIX = {"s": "seconds", "bytes": "bytes", "ratio": "ratio", "rows": "rows"}


def measure_name(name: str, unit: str | None) -> str:
    """An observation's `measure` label: its name with the base unit appended (`latency` in s -> latency_seconds)."""
    suffix = _UNIT_SUFFIX.get(unit or "")
    if suffix and not name.endswith(suffix):
        return f"{name}_{suffix}"
    return name


def escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _header(lines: list[str], name: str, kind: str, doc: str) -> None:
    lines.append(f"# HELP {name} {doc.replace(chr(92), chr(92) * 2).replace(chr(10), chr(92) + 'n')}")
    lines.append(f"# TYPE {name} {kind}")


class TextWriter:
    """Renders a metrics Snapshot (see app.views.metrics) in the Prometheus text format 0.0.4."""

    def __init__(self) -> None:
        self._labels: dict[tuple[CheckId, str, str], str] = {}

    def _base(self, check_id: CheckId, component_type: str, severity: str) -> str:
        key = (check_id, component_type, severity)
        text = self._labels.get(key)
        if text is None:
            # Sorted label names, as prometheus_client writes them: check, component.
            text = f'check="{escape(check_id.check)}",component="{escape(check_id.component)}"'
            self._labels[key] = text
        return text

    def render(self, snapshot: object) -> str:
        from app.views.metrics import Snapshot  # the snapshot type lives beside the collector

        assert isinstance(snapshot, Snapshot)
        checks = [
            (self._base(CheckId(c.component, c.check), c.component_type, c.severity.value), c) for c in snapshot.checks
        ]
        out: list[str] = []
        f = floatToGoString

        _header(out, "vigil_check_up", "gauge", "1 when the check's reported state is pass or warn, else 0.")
        out.extend(
            f"vigil_check_up{{{b}}} {'1.0' if c.effective is not None and c.effective.ok else '0.0'}" for b, c in checks
        )
        _header(out, "vigil_check_status", "gauge", "Reported state of the check, one series per status.")
        for b, c in checks:
            for s in Status:
                out.append(f'vigil_check_status{{{b},status="{s.value}"}} {"1.0" if c.effective is s else "0.0"}')
        _header(out, "vigil_check_info", "gauge", "Static facts about a configured check.")
        out.extend(
            f'vigil_check_info{{area="{c.area}",{b},severity="{c.severity.value}",type="{escape(c.component_type)}"}} 1.0'
            for b, c in checks
        )
        _header(out, "vigil_check_stale", "gauge", "1 when the last result is older than 2*interval+timeout.")
        out.extend(f"vigil_check_stale{{{b}}} {'1.0' if c.stale else '0.0'}" for b, c in checks)
        _header(out, "vigil_check_runs_total", "counter", "Check runs by raw result (the availability SLI).")
        for b, c in checks:
            for s, count in zip(Status, c.runs, strict=True):
                out.append(f'vigil_check_runs_total{{{b},status="{s.value}"}} {f(count)}')
        _header(
            out,
            "vigil_check_runs_unjudged_total",
            "counter",
            "Scheduled runs Vigil was too late to judge (its own event loop stalled); not in vigil_check_runs_total.",
        )
        out.extend(f"vigil_check_runs_unjudged_total{{{b}}} {f(c.unjudged)}" for b, c in checks)
        _header(out, "vigil_check_duration_seconds", "histogram", "How long check runs took.")
        for b, c in checks:
            cumulative = 0
            for bound, count in zip(_BUCKET_BOUNDS, c.duration_counts, strict=True):
                cumulative += count
                out.append(f'vigil_check_duration_seconds_bucket{{{b},le="{bound}"}} {f(cumulative)}')
            out.append(f"vigil_check_duration_seconds_count{{{b}}} {f(cumulative)}")
            out.append(f"vigil_check_duration_seconds_sum{{{b}}} {f(c.duration_sum)}")
        _header(out, "vigil_check_observed", "gauge", "Numeric values the check observed on its last run.")
        for b, c in checks:
            if c.last is None:
                continue
            for obs in c.last.observed:
                if isinstance(obs.value, bool | int | float):
                    measure = escape(measure_name(obs.name, obs.unit))
                    out.append(f'vigil_check_observed{{{b},measure="{measure}"}} {f(float(obs.value))}')
        _header(out, "vigil_check_last_run_timestamp_seconds", "gauge", "When the last run finished (unix time).")
        out.extend(
            f"vigil_check_last_run_timestamp_seconds{{{b}}} {f(c.last.finished_at)}"
            for b, c in checks
            if c.last is not None
        )
        _header(
            out,
            "vigil_check_last_success_timestamp_seconds",
            "gauge",
            "When the last pass or warn finished (unix time).",
        )
        out.extend(
            f"vigil_check_last_success_timestamp_seconds{{{b}}} {f(c.last_success_at)}"
            for b, c in checks
            if c.last_success_at is not None
        )
        _header(out, "vigil_check_consecutive_failures", "gauge", "Failed runs in a row.")
        out.extend(f"vigil_check_consecutive_failures{{{b}}} {f(c.consecutive_failures)}" for b, c in checks)
        _header(out, "vigil_scheduler_lag_seconds", "gauge", "How late the last scheduled run of the check started.")
        out.extend(f"vigil_scheduler_lag_seconds{{{b}}} {f(c.lag)}" for b, c in checks)
        _header(
            out,
            "vigil_check_forecast_seconds",
            "gauge",
            "Time until an observed value reaches its limit at the current rate (only while one is predicted).",
        )
        out.extend(
            f'vigil_check_forecast_seconds{{{b},measure="{escape(c.forecast[0])}"}} {f(c.forecast[1])}'
            for b, c in checks
            if c.forecast is not None
        )
        _header(out, "vigil_check_cause", "gauge", CAUSE_HELP)
        out.extend(
            f'vigil_check_cause{{{b},cause="{escape(c.cause)}",root="{str(c.cause == c.component).lower()}"}} 1.0'
            for b, c in checks
            if c.cause is not None
        )
        _header(out, "vigil_check_maintenance", "gauge", MAINTENANCE_HELP)
        out.extend(f"vigil_check_maintenance{{{b}}} {'1.0' if c.maintenance else '0.0'}" for b, c in checks)
        _header(out, "vigil_ready", "gauge", "1 when every critical check is pass or warn (what /readyz says).")
        out.append(f"vigil_ready {'1.0' if snapshot.ready else '0.0'}")
        out.append("")
        return "\n".join(out)
