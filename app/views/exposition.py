"""The /metrics text format written straight from a Snapshot, with each check's label text prepared once.

prometheus_client's generic path builds a Metric and a Sample object per series and escapes every label on every
scrape; at 1,000 checks (about 30 series each) that is most of a scrape's cost. Labels here come only from
configuration, so their text is fixed per check and cached. The output parses to the same families and samples
as `generate_latest` over VigilCollector (tests compare the two; the benchmark measures both).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import accumulate
from typing import cast

from prometheus_client.utils import floatToGoString as _untyped_float

from app.engine.store import DURATION_BUCKETS
from app.model import Status
from app.views import metricnames as m
from app.views.metricnames import measure_name
from app.views.snapshot import CheckSample, Snapshot

floatToGoString = cast(Callable[[float], str], _untyped_float)  # prometheus_client's own value formatting

_STATUSES = tuple(s.value for s in Status)
_BUCKET_BOUNDS = tuple("+Inf" if b == float("inf") else floatToGoString(b) for b in DURATION_BUCKETS)


def count(n: int) -> str:
    """A count as floatToGoString writes it, without going through a float below a million (most values)."""
    return f"{n}.0" if 0 <= n < 1_000_000 else floatToGoString(n)


def number(x: float) -> str:
    """A float as floatToGoString writes it: Python's repr below a million (Go switches to exponents there)."""
    return repr(float(x)) if -1e6 < x < 1e6 else floatToGoString(x)


def _braced(text: str) -> str:
    """`text` as literal text in a str.format template."""
    return text.replace("{", "{{").replace("}", "}}")


def escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _header(lines: list[str], metric: m.MetricName) -> str:
    """Writes the family's HELP and TYPE lines; returns its name."""
    name, doc = metric.exposed, metric.help
    lines.append(f"# HELP {name} {doc.replace(chr(92), chr(92) * 2).replace(chr(10), chr(92) + 'n')}")
    lines.append(f"# TYPE {name} {metric.text_type}")
    return name


class _CheckLines:
    """One check's series text that only configuration decides: label sets, and whole lines where the value
    takes few forms (state, staleness, info). A scrape then appends values to prefixes."""

    __slots__ = (
        "base",
        "block",
        "bucket",
        "cause",
        "count",
        "failures",
        "info",
        "lag",
        "last_run",
        "last_success",
        "maintenance",
        "observed",
        "runs",
        "runs_block",
        "stale",
        "status",
        "sum",
        "unjudged",
        "up",
    )

    def __init__(self, base: str, component_type: str, severity: str, area: str) -> None:
        self.base = base
        self.up = (f"{m.UP.exposed}{{{base}}} 0.0", f"{m.UP.exposed}{{{base}}} 1.0")
        status = m.STATUS.exposed
        self.status = {
            effective: "\n".join(
                f'{status}{{{base},status="{s}"}} {"1.0" if effective == s else "0.0"}' for s in _STATUSES
            )
            for effective in (None, *_STATUSES)
        }
        self.info = (
            f'{m.INFO.exposed}{{area="{area}",{base},severity="{severity}",type="{escape(component_type)}"}} 1.0'
        )
        self.stale = (f"{m.STALE.exposed}{{{base}}} 0.0", f"{m.STALE.exposed}{{{base}}} 1.0")
        self.runs = tuple(f'{m.RUNS.exposed}{{{base},status="{s}"}} ' for s in _STATUSES)
        self.runs_block = "\n".join(_braced(line) + "{}.0" for line in self.runs).format
        self.unjudged = f"{m.UNJUDGED.exposed}{{{base}}} "
        duration = m.DURATION.exposed
        self.bucket = tuple(f'{duration}_bucket{{{base},le="{bound}"}} ' for bound in _BUCKET_BOUNDS)
        self.count = f"{duration}_count{{{base}}} "
        self.sum = f"{duration}_sum{{{base}}} "
        # The whole histogram but its sum as one template, filled in C: buckets and count below a million
        # (written "N.0", as `count` writes them), the common case; larger ones go line by line.
        self.block = "\n".join(_braced(line) + "{}.0" for line in (*self.bucket, self.count)).format
        self.last_run = f"{m.LAST_RUN.exposed}{{{base}}} "
        self.last_success = f"{m.LAST_SUCCESS.exposed}{{{base}}} "
        self.failures = f"{m.FAILURES.exposed}{{{base}}} "
        self.lag = f"{m.LAG.exposed}{{{base}}} "
        self.cause = f'{m.CAUSE.exposed}{{{base},cause="'
        self.maintenance = (f"{m.MAINTENANCE.exposed}{{{base}}} 0.0", f"{m.MAINTENANCE.exposed}{{{base}}} 1.0")
        self.observed: dict[tuple[str, str | None], str] = {}  # (name, unit) -> prefix, filled as measures appear

    def observed_prefix(self, name: str, unit: str | None) -> str:
        prefix = self.observed.get((name, unit))
        if prefix is None:
            measure = escape(measure_name(name, unit))
            prefix = self.observed[name, unit] = f'{m.OBSERVED.exposed}{{{self.base},measure="{measure}"}} '
        return prefix


class TextWriter:
    """Renders a metrics Snapshot (see app.views.snapshot) in the Prometheus text format 0.0.4."""

    def __init__(self) -> None:
        self._lines: dict[tuple[str, str, str, str, str], _CheckLines] = {}

    def _check_lines(self, c: CheckSample) -> _CheckLines:
        key = (c.component, c.check, c.component_type, c.severity.value, c.area)
        lines = self._lines.get(key)
        if lines is None:
            # Sorted label names, as prometheus_client writes them: check, component.
            base = f'check="{escape(c.check)}",component="{escape(c.component)}"'
            lines = self._lines[key] = _CheckLines(base, c.component_type, c.severity.value, c.area)
        return lines

    def render(self, snapshot: Snapshot) -> str:
        checks = [(self._check_lines(c), c) for c in snapshot.checks]
        out: list[str] = []
        append = out.append
        f = number
        i = count

        _header(out, m.UP)
        out.extend(k.up[c.effective is not None and c.effective.ok] for k, c in checks)
        _header(out, m.STATUS)
        out.extend(k.status[None if c.effective is None else c.effective.value] for k, c in checks)
        _header(out, m.INFO)
        out.extend(k.info for k, _ in checks)
        _header(out, m.STALE)
        out.extend(k.stale[c.stale] for k, c in checks)
        _header(out, m.RUNS)
        for k, c in checks:
            if max(c.runs) < 1_000_000 and min(c.runs) >= 0:
                append(k.runs_block(*c.runs))
            else:
                out.extend(map(str.__add__, k.runs, map(count, c.runs)))
        _header(out, m.UNJUDGED)
        out.extend(k.unjudged + i(c.unjudged) for k, c in checks)
        _header(out, m.DURATION)
        for k, c in checks:
            totals = list(accumulate(c.duration_counts))
            if totals[-1] < 1_000_000 and min(c.duration_counts) >= 0:
                append(k.block(*totals, totals[-1]))
            else:
                out.extend(map(str.__add__, k.bucket, map(count, totals)))
                append(k.count + i(totals[-1]))
            append(k.sum + f(c.duration_sum))
        _header(out, m.OBSERVED)
        for k, c in checks:
            if c.last is None:
                continue
            for obs in c.last.observed:
                if isinstance(obs.value, bool | int | float):
                    append(k.observed_prefix(obs.name, obs.unit) + f(float(obs.value)))
        _header(out, m.LAST_RUN)
        out.extend(k.last_run + f(c.last.finished_at) for k, c in checks if c.last is not None)
        _header(out, m.LAST_SUCCESS)
        out.extend(k.last_success + f(c.last_success_at) for k, c in checks if c.last_success_at is not None)
        _header(out, m.FAILURES)
        out.extend(k.failures + i(c.consecutive_failures) for k, c in checks)
        _header(out, m.LAG)
        out.extend(k.lag + f(c.lag) for k, c in checks)
        n = _header(out, m.FORECAST)
        out.extend(
            f'{n}{{{k.base},measure="{escape(c.forecast[0])}"}} {f(c.forecast[1])}'
            for k, c in checks
            if c.forecast is not None
        )
        _header(out, m.CAUSE)
        out.extend(
            f'{k.cause}{escape(c.cause)}",root="{str(c.cause == c.component).lower()}"}} 1.0'
            for k, c in checks
            if c.cause is not None
        )
        _header(out, m.MAINTENANCE)
        out.extend(k.maintenance[c.maintenance] for k, c in checks)
        n = _header(out, m.READY)
        append(f"{n} {'1.0' if snapshot.ready else '0.0'}")
        n = _header(out, m.RELOAD_OK)
        append(f"{n} {'1.0' if snapshot.reload_ok else '0.0'}")
        n = _header(out, m.RELOAD_AT)
        append(f"{n} {f(snapshot.reload_success_at)}")
        append("")
        return "\n".join(out)
