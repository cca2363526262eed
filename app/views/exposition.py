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
from app.views import metricnames as m
from app.views.metricnames import measure_name
from app.views.snapshot import Snapshot

floatToGoString = cast(Callable[[float], str], _untyped_float)  # prometheus_client's own value formatting

_BUCKET_BOUNDS = tuple("+Inf" if b == float("inf") else floatToGoString(b) for b in DURATION_BUCKETS)


def escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _header(lines: list[str], metric: m.MetricName) -> str:
    """Writes the family's HELP and TYPE lines; returns its name."""
    name, doc = metric.exposed, metric.help
    lines.append(f"# HELP {name} {doc.replace(chr(92), chr(92) * 2).replace(chr(10), chr(92) + 'n')}")
    lines.append(f"# TYPE {name} {metric.text_type}")
    return name


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

    def render(self, snapshot: Snapshot) -> str:
        checks = [
            (self._base(CheckId(c.component, c.check), c.component_type, c.severity.value), c) for c in snapshot.checks
        ]
        out: list[str] = []
        f = floatToGoString

        n = _header(out, m.UP)
        out.extend(f"{n}{{{b}}} {'1.0' if c.effective is not None and c.effective.ok else '0.0'}" for b, c in checks)
        n = _header(out, m.STATUS)
        for b, c in checks:
            for s in Status:
                out.append(f'{n}{{{b},status="{s.value}"}} {"1.0" if c.effective is s else "0.0"}')
        n = _header(out, m.INFO)
        out.extend(
            f'{n}{{area="{c.area}",{b},severity="{c.severity.value}",type="{escape(c.component_type)}"}} 1.0'
            for b, c in checks
        )
        n = _header(out, m.STALE)
        out.extend(f"{n}{{{b}}} {'1.0' if c.stale else '0.0'}" for b, c in checks)
        n = _header(out, m.RUNS)
        for b, c in checks:
            for s, count in zip(Status, c.runs, strict=True):
                out.append(f'{n}{{{b},status="{s.value}"}} {f(count)}')
        n = _header(out, m.DURATION)
        for b, c in checks:
            cumulative = 0
            for bound, count in zip(_BUCKET_BOUNDS, c.duration_counts, strict=True):
                cumulative += count
                out.append(f'{n}_bucket{{{b},le="{bound}"}} {f(cumulative)}')
            out.append(f"{n}_count{{{b}}} {f(cumulative)}")
            out.append(f"{n}_sum{{{b}}} {f(c.duration_sum)}")
        n = _header(out, m.OBSERVED)
        for b, c in checks:
            if c.last is None:
                continue
            for obs in c.last.observed:
                if isinstance(obs.value, bool | int | float):
                    measure = escape(measure_name(obs.name, obs.unit))
                    out.append(f'{n}{{{b},measure="{measure}"}} {f(float(obs.value))}')
        n = _header(out, m.LAST_RUN)
        out.extend(f"{n}{{{b}}} {f(c.last.finished_at)}" for b, c in checks if c.last is not None)
        n = _header(out, m.LAST_SUCCESS)
        out.extend(f"{n}{{{b}}} {f(c.last_success_at)}" for b, c in checks if c.last_success_at is not None)
        n = _header(out, m.FAILURES)
        out.extend(f"{n}{{{b}}} {f(c.consecutive_failures)}" for b, c in checks)
        n = _header(out, m.LAG)
        out.extend(f"{n}{{{b}}} {f(c.lag)}" for b, c in checks)
        n = _header(out, m.FORECAST)
        out.extend(
            f'{n}{{{b},measure="{escape(c.forecast[0])}"}} {f(c.forecast[1])}'
            for b, c in checks
            if c.forecast is not None
        )
        n = _header(out, m.READY)
        out.append(f"{n} {'1.0' if snapshot.ready else '0.0'}")
        out.append("")
        return "\n".join(out)
