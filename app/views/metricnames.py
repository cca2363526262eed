"""Vigil's metric families: name, type, help and label names, written once.

Read by the collector (app.views.metrics), the fast text writer (app.views.exposition) and the docs' metrics
table (`markdown_table`); a test holds both writers to exactly this table. Labels come only from configuration
(component, check, type, severity, area) and code (status, measure, le); never from what a target said.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["gauge", "counter", "histogram", "info"]
CHECK = ("component", "check")


@dataclass(frozen=True, slots=True)
class MetricName:
    family: str  # as prometheus_client names the family (a counter without `_total`, an info without `_info`)
    kind: Kind
    help: str
    labels: tuple[str, ...]  # in the collector's order (the text format sorts them); a histogram's `le` left out

    @property
    def exposed(self) -> str:
        """The name a PromQL query uses: `_total` on a counter, `_info` on an info metric."""
        return self.family + {"counter": "_total", "info": "_info"}.get(self.kind, "")

    @property
    def text_type(self) -> str:
        """The TYPE in the text format 0.0.4, where an info metric is a gauge."""
        return "gauge" if self.kind == "info" else self.kind


UP = MetricName("vigil_check_up", "gauge", "1 when the check's reported state is pass or warn, else 0.", CHECK)
STATUS = MetricName(
    "vigil_check_status", "gauge", "Reported state of the check, one series per status.", (*CHECK, "status")
)
INFO = MetricName(
    "vigil_check_info", "gauge", "Static facts about a configured check.", (*CHECK, "type", "severity", "area")
)
STALE = MetricName("vigil_check_stale", "gauge", "1 when the last result is older than 2*interval+timeout.", CHECK)
RUNS = MetricName("vigil_check_runs", "counter", "Check runs by raw result (the availability SLI).", (*CHECK, "status"))
UNJUDGED = MetricName(
    "vigil_check_runs_unjudged",
    "counter",
    "Scheduled runs Vigil was too late to judge (its own event loop stalled); not in vigil_check_runs_total.",
    CHECK,
)
DURATION = MetricName("vigil_check_duration_seconds", "histogram", "How long check runs took.", CHECK)
OBSERVED = MetricName(
    "vigil_check_observed", "gauge", "Numeric values the check observed on its last run.", (*CHECK, "measure")
)
LAST_RUN = MetricName(
    "vigil_check_last_run_timestamp_seconds", "gauge", "When the last run finished (unix time).", CHECK
)
LAST_SUCCESS = MetricName(
    "vigil_check_last_success_timestamp_seconds", "gauge", "When the last pass or warn finished (unix time).", CHECK
)
FAILURES = MetricName("vigil_check_consecutive_failures", "gauge", "Failed runs in a row.", CHECK)
LAG = MetricName("vigil_scheduler_lag_seconds", "gauge", "How late the last scheduled run of the check started.", CHECK)
FORECAST = MetricName(
    "vigil_check_forecast_seconds",
    "gauge",
    "Time until an observed value reaches its limit at the current rate (only while one is predicted).",
    (*CHECK, "measure"),
)
CAUSE = MetricName(
    "vigil_check_cause",
    "gauge",
    "1 while the check fails: cause is the component whose outage explains it, root is true when that is its own.",
    (*CHECK, "cause", "root"),
)
MAINTENANCE = MetricName(
    "vigil_check_maintenance",
    "gauge",
    "1 while the check is inside one of its maintenance windows (its alerts stay quiet; readiness does not change).",
    CHECK,
)
READY = MetricName("vigil_ready", "gauge", "1 when every critical check is pass or warn (what /readyz says).", ())
RELOAD_OK = MetricName(
    "vigil_config_last_reload_successful",
    "gauge",
    "1 when the last configuration reload (SIGHUP, POST /-/reload, a watched file) was applied, 0 when refused.",
    (),
)
RELOAD_AT = MetricName(
    "vigil_config_last_reload_success_timestamp_seconds",
    "gauge",
    "When the configuration in use was applied (unix time): at startup, then at each successful reload.",
    (),
)
BUILD = MetricName("vigil_build", "info", "Vigil's version.", ("python", "version"))

# In the order /metrics writes them.
METRICS: tuple[MetricName, ...] = (
    UP,
    STATUS,
    INFO,
    STALE,
    RUNS,
    UNJUDGED,
    DURATION,
    OBSERVED,
    LAST_RUN,
    LAST_SUCCESS,
    FAILURES,
    LAG,
    FORECAST,
    CAUSE,
    MAINTENANCE,
    READY,
    RELOAD_OK,
    RELOAD_AT,
    BUILD,
)

_UNIT_SUFFIX = {"s": "seconds", "bytes": "bytes", "ratio": "ratio", "rows": "rows"}


def measure_name(name: str, unit: str | None) -> str:
    """An observation's `measure` label: its name with the base unit appended (`latency` in s -> latency_seconds)."""
    suffix = _UNIT_SUFFIX.get(unit or "")
    if suffix and not name.endswith(suffix):
        return f"{name}_{suffix}"
    return name


def markdown_table() -> str:
    """The docs' metrics table (between the `metric-table` markers of docs/metrics.md): `python -m
    app.views.metricnames` prints it. The process_* metrics of prometheus_client's process collector come on top."""
    rows = ["| metric | type | meaning |", "|---|---|---|"]
    for metric in METRICS:
        labels = "{" + ",".join(metric.labels) + "}" if metric.labels else ""
        rows.append(f"| `{metric.exposed}{labels}` | {metric.kind} | {metric.help} |")
    rows.append("| `process_*` | | the process collector (CPU, memory, file descriptors) |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
