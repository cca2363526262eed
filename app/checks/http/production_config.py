"""The options of the `http` type's production-readiness kinds: `tls`, `https`, `latency` and `resources`.

Validated once, at load; config.py puts them in the component's union and checks how they fit the component.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal, Self
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, field_validator, model_validator

from app.checks.tcp.config import TlsOptions
from app.config.fields import Area, Bytes, CheckConfig, Duration, Frozen, Schedule, Severity
from app.units import span

NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")  # a latency path's name: it prefixes observation names
DAY = 86400.0


def _name(value: str) -> str:
    if not NAME.fullmatch(value):
        raise ValueError(f"{value!r}: names must match {NAME.pattern}")
    return value


Name = Annotated[str, AfterValidator(_name)]


def longer_than(schedule: Schedule, needed: float, what: str) -> list[tuple[str, str]]:
    """A schedule problem when the check's timeout leaves no room for `needed` seconds of its own waits."""
    if schedule.timeout <= needed:
        return [("timeout", f"{span(schedule.timeout)} must be longer than {what} ({span(needed)})")]
    return []


class HttpTls(TlsOptions):
    """The component's https:// endpoint: one handshake of Vigil's own, the chain judged (see TlsOptions)."""

    inner_timeouts: ClassVar[tuple[tuple[str, float], ...]] = (("handshake_timeout", 0.8),)
    kind: Literal["tls"] = "tls"
    handshake_timeout: Duration = Field(default=2.0, gt=0.0)

    def schedule_problems(self, schedule: Schedule) -> list[tuple[str, str]]:
        return longer_than(schedule, self.handshake_timeout, "handshake_timeout")


class HttpHttps(CheckConfig):
    """Plain http redirects (permanently) to https on the same host, and the https answer carries HSTS."""

    default_severity: ClassVar[Severity] = Severity.DEGRADED
    default_area: ClassVar[Area | None] = Area.SECURITY
    inner_timeouts: ClassVar[tuple[tuple[str, float], ...]] = (("request_timeout", 0.4),)  # two requests
    kind: Literal["https"] = "https"
    path: str = ""  # under the component's url: where HSTS is read, and the path of the default http_url
    http_url: str | None = None  # the plain-http URL that must redirect (default: http://<host><path>, port 80)
    min_max_age: Duration = Field(default=180 * DAY, gt=0.0)  # Strict-Transport-Security max-age at least this
    include_subdomains: bool = False  # require includeSubDomains
    request_timeout: Duration = Field(default=2.0, gt=0.0)  # each of the two requests

    @field_validator("http_url")
    @classmethod
    def _plain_http(cls, url: str | None) -> str | None:
        if url is not None and (urlsplit(url).scheme != "http" or not urlsplit(url).hostname):
            raise ValueError("must be a plain http:// URL with a host (the one that should redirect to https)")
        return url

    def schedule_problems(self, schedule: Schedule) -> list[tuple[str, str]]:
        return longer_than(schedule, 2 * self.request_timeout, "two requests of request_timeout")


class LatencyPath(Frozen):
    """One path measured by a `latency` check, and its p95 budget. A bare string is shorthand for `{path: ...}`."""

    path: str
    method: Literal["GET", "HEAD"] = "GET"
    budget: Duration = Field(default=0.2, gt=0.0)  # p95 above it fails

    @model_validator(mode="before")
    @classmethod
    def _bare_path(cls, data: Any) -> Any:
        return {"path": data} if isinstance(data, str) else data


class HttpLatency(CheckConfig):
    """A small load per path each run: p50/p95/p99 and errors; p95 against the path's budget."""

    default_severity: ClassVar[Severity] = Severity.DEGRADED
    default_area: ClassVar[Area | None] = Area.PERFORMANCE
    kind: Literal["latency"] = "latency"
    paths: dict[Name, LatencyPath] = Field(min_length=1)
    requests: int = Field(default=20, ge=1, le=1000)  # per path per run
    concurrency: int = Field(default=4, ge=1, le=100)  # requests in flight at once (at most max_connections)
    warn_fraction: float = Field(default=0.8, gt=0.0, le=1.0)  # warn when p95 reaches this fraction of the budget
    request_timeout: Duration = Field(default=1.0, gt=0.0)  # a request slower than this is an error
    expect_status: list[int] = Field(default_factory=lambda: [200], min_length=1)  # any other status is an error
    max_errors: int = Field(default=0, ge=0)  # per path per run; more fail the check

    @model_validator(mode="after")
    def _request_timeout_above_budgets(self) -> Self:
        largest = max(path.budget for path in self.paths.values())
        if self.request_timeout <= largest:
            raise ValueError(
                f"request_timeout: {span(self.request_timeout)} must be longer than the largest budget "
                f"({span(largest)}); a request cut at its timeout is an error, not a measurement"
            )
        return self

    @property
    def rounds(self) -> int:
        return -(-self.requests // self.concurrency)

    def schedule_problems(self, schedule: Schedule) -> list[tuple[str, str]]:
        # Every request at its path's budget must fit: a run cut at its deadline fails the paths it did not finish.
        needed = sum(self.rounds * path.budget for path in self.paths.values())
        what = f"{self.requests} requests per path, {self.concurrency} at a time, each at its path's budget"
        return longer_than(schedule, needed, what)


class HttpResources(CheckConfig):
    """Memory and CPU of the watched service against its limits, from its Prometheus endpoint or cgroup v2 files."""

    default_severity: ClassVar[Severity] = Severity.DEGRADED
    default_area: ClassVar[Area | None] = Area.PERFORMANCE
    inner_timeouts: ClassVar[tuple[tuple[str, float], ...]] = (("request_timeout", 0.8),)
    kind: Literal["resources"] = "resources"
    source: Literal["prometheus", "cgroup"] = "prometheus"
    metrics_path: str = "/metrics"  # prometheus: under the component's url
    cgroup_dir: str = "/sys/fs/cgroup"  # cgroup: the directory of the service's cgroup (v2) as Vigil sees it
    memory_limit: Bytes | None = None  # prometheus: the limit usage is judged against; cgroup: when memory.max is max
    cpu_limit: float | None = Field(default=None, gt=0.0)  # cores; as memory_limit (cgroup: when cpu.max is max)
    max_memory_ratio: float = Field(default=0.8, gt=0.0, le=1.0)  # fail at this share of the memory limit
    max_cpu_ratio: float = Field(default=0.7, gt=0.0, le=1.0)  # fail at this share of the CPU limit
    warn_fraction: float = Field(default=0.9, gt=0.0, le=1.0)  # warn at this fraction of either maximum
    request_timeout: Duration = Field(default=2.0, gt=0.0)  # prometheus: the scrape

    @model_validator(mode="after")
    def _prometheus_needs_a_limit(self) -> Self:
        if self.source == "prometheus" and self.memory_limit is None and self.cpu_limit is None:
            raise ValueError(
                "memory_limit: set memory_limit or cpu_limit (or both); the process metrics give usage, not limits"
            )
        return self

    def schedule_problems(self, schedule: Schedule) -> list[tuple[str, str]]:
        if self.source == "prometheus":
            return longer_than(schedule, self.request_timeout, "request_timeout")
        return []
