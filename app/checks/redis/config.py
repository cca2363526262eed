"""The `redis` component's configuration: the component model and the options of its check kinds (the `sentinel:`
block and the `sentinel` kind are in sentinel_config.py, `cluster:` and the `cluster` kind in cluster_config.py).
Validated once, at load; nothing here talks to Redis.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from app.checks.redis.cluster_config import ClusterSeeds, RedisClusterState
from app.checks.redis.sentinel_config import RedisSentinel, SentinelTarget
from app.config.fields import Area, CaFile, CheckConfig, ComponentConfig, Duration, Severity

EVICTION_POLICIES = (
    "noeviction",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
)
SAFE_POLICIES = ("noeviction", "volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl")

Ratio = Annotated[float, Field(gt=0.0, le=1.0)]


class RedisConnectivity(CheckConfig):
    """PING round trip and server version."""

    kind: Literal["connectivity"] = "connectivity"
    latency_warn: Duration | None = None  # warn when the PING round trip is slower


class RatioThresholds(CheckConfig):
    """A utilisation judged against two thresholds; subclasses give the defaults."""

    warn_ratio: Ratio
    fail_ratio: Ratio

    @model_validator(mode="after")
    def _ratios_ordered(self) -> Self:
        if self.warn_ratio > self.fail_ratio:
            raise ValueError("warn_ratio must not be above fail_ratio")
        return self


class RedisPool(RatioThresholds):
    """Connection headroom: the server's client table against maxclients, rejections, and Vigil's own pool.

    Degraded, not critical: it measures capacity, not reachability (`connectivity` gates readiness). Pulling
    this service out of rotation when Redis nears maxclients frees no Redis connection and turns a warning
    into an outage; and a full Vigil pool is Vigil's own trouble, not the dependency's.
    """

    default_severity: ClassVar[Severity] = Severity.DEGRADED
    kind: Literal["pool"] = "pool"
    warn_ratio: Ratio = 0.7  # connected_clients / maxclients
    fail_ratio: Ratio = 0.9


class ScanFields(CheckConfig):
    """The per-run bound on SCAN work: COUNT per call, keys examined, wall time."""

    scan_count: int = Field(default=100, ge=1, le=10_000)  # COUNT hint of each SCAN call
    max_keys: int = Field(default=1000, ge=1, le=100_000)  # keys examined per run (SCAN calls = max_keys / scan_count)
    scan_time: Duration = Field(default=0.25, gt=0.0)  # wall time per run; never more than half the time left


class RedisSessionTtl(ScanFields):
    """Session expiry and survival: a TTL canary, a bounded SCAN sample of session keys, a restart canary."""

    default_severity: ClassVar[Severity] = Severity.DEGRADED
    kind: Literal["session_ttl"] = "session_ttl"
    pattern: str = "session:*"
    max_ttl: Duration = 7 * 86400.0  # a session TTL above this warns
    min_ttl: Duration | None = None  # when set, warn if more than min_ttl_ratio of the sample is below it
    min_ttl_ratio: float = Field(default=0.5, ge=0.0, le=1.0)
    canary_ttl: Duration = Field(default=60.0, ge=1.0)
    ttl_tolerance: Duration = 1.0  # canary PTTL read back may differ from what was written by this (plus the RTT)
    survival_ttl: Duration = Field(default=86400.0, ge=60.0)  # the restart canary; never below 3 intervals

    @model_validator(mode="after")
    def _ttls_ordered(self) -> Self:
        if self.min_ttl is not None and self.min_ttl >= self.max_ttl:
            raise ValueError("min_ttl must be below max_ttl")
        return self


class RedisMemory(RatioThresholds, ScanFields):
    """Memory pressure, the eviction policy, and priority keys that must never be evicted."""

    default_severity: ClassVar[Severity] = Severity.DEGRADED
    kind: Literal["memory"] = "memory"
    warn_ratio: Ratio = 0.8  # used_memory / maxmemory (or system memory)
    fail_ratio: Ratio = 0.95
    allowed_policies: tuple[str, ...] = SAFE_POLICIES
    priority_keys: tuple[str, ...] = ()  # exact keys, or glob patterns that must match at least one key

    @field_validator("allowed_policies")
    @classmethod
    def _known_policies(cls, policies: tuple[str, ...]) -> tuple[str, ...]:
        for policy in policies:
            if policy not in EVICTION_POLICIES:
                raise ValueError(f"unknown maxmemory-policy {policy!r}; use some of {', '.join(EVICTION_POLICIES)}")
        return policies


class RedisReplication(CheckConfig):
    """Replication health, seen from whichever end the URL points at: on a replica, its link to the primary; on a
    primary, how many replicas are online and how far each one is behind."""

    default_severity: ClassVar[Severity] = Severity.DEGRADED
    kind: Literal["replication"] = "replication"
    min_replicas: int = Field(default=0, ge=0, le=1000)  # on a primary: online replicas expected (0: none required)
    # Seconds since the other end was last heard from: on a replica, the last I/O with its primary (which pings
    # every repl-ping-replica-period, 10s by default); on a primary, each replica's last acknowledgement (every 1s).
    last_io_warn: Duration = Field(default=15.0, gt=0.0)
    last_io_fail: Duration = Field(default=45.0, gt=0.0)
    # Replication offset lag in bytes; warn at the default repl-backlog-size (1 MiB): a replica further behind
    # than the backlog needs a full resync if its link drops.
    lag_bytes_warn: int = Field(default=1024 * 1024, ge=1)
    lag_bytes_fail: int = Field(default=16 * 1024 * 1024, ge=1)

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> Self:
        if self.last_io_warn > self.last_io_fail:
            raise ValueError("last_io_warn must not be above last_io_fail")
        if self.lag_bytes_warn > self.lag_bytes_fail:
            raise ValueError("lag_bytes_warn must not be above lag_bytes_fail")
        return self


RedisCheck = Annotated[
    RedisConnectivity
    | RedisPool
    | RedisSessionTtl
    | RedisMemory
    | RedisReplication
    | RedisSentinel
    | RedisClusterState,
    Field(discriminator="kind"),
]


# Where a redis component's servers are: exactly one of these names them.
TARGETS = ("url", "sentinel", "cluster")


def default_checks() -> dict[str, RedisCheck]:
    return {"connectivity": RedisConnectivity()}


class RedisComponent(ComponentConfig):
    secret_fields: ClassVar[tuple[str, ...]] = ("password",)
    default_area: ClassVar[Area] = Area.REDIS
    timeout_chain: ClassVar[tuple[tuple[str, str | None, float], ...]] = (
        ("socket_timeout", None, 0.5),
        ("connect_timeout", None, 0.5),
        ("pool_timeout", "socket_timeout", 0.5),
    )

    type: Literal["redis"]
    url: str = "redis://127.0.0.1:6379/0"  # one server; or `sentinel:` or `cluster:` (exactly one of them)
    sentinel: SentinelTarget | None = None
    cluster: ClusterSeeds | None = None
    username: str | None = None
    password: SecretStr | None = None
    max_connections: int = Field(default=4, ge=1, le=1000)  # Vigil's own pool, per component
    pool_timeout: Duration = 0.5  # waiting for a free connection of Vigil's pool
    connect_timeout: Duration = 1.0
    socket_timeout: Duration = 1.0  # per command
    tls_ca_file: CaFile = None  # CA bundle for rediss://, cluster.tls and sentinel.tls (default: the system's)
    tls_verify: bool = True  # verify the server's certificate and host name (rediss://, cluster.tls, sentinel.tls)
    key_prefix: str = Field(default="vigil:", min_length=1)  # the only keys Vigil ever writes (canaries, with a TTL)
    checks: dict[str, RedisCheck] = Field(default_factory=default_checks)

    @field_validator("url")
    @classmethod
    def _url_scheme(cls, url: str) -> str:
        if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return url

    @model_validator(mode="after")
    def _timeouts_nest(self) -> Self:
        # Only timeouts set explicitly can contradict each other: unset ones are fitted (see `fitted`).
        explicit = {"pool_timeout", "socket_timeout"} <= self.model_fields_set
        if explicit and not self.pool_timeout < self.socket_timeout:
            raise ValueError("pool_timeout must be shorter than socket_timeout")
        return self

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        named = [name for name in TARGETS if name in self.model_fields_set and getattr(self, name, None) is not None]
        if len(named) > 1:
            said = "both" if len(named) == 2 else f"all {len(named)}"
            raise ValueError(f"set exactly one of {', '.join(named[:-1])} or {named[-1]}, not {said}")
        if self.cluster is not None:
            cluster_problems(self)
        elif any(isinstance(check, RedisClusterState) for check in self.checks.values()):
            raise ValueError("the cluster check needs a cluster component: set cluster.seeds instead of url")
        for name, check in self.checks.items():
            if isinstance(check, RedisSentinel) and self.sentinel is None:
                raise ValueError(f"checks.{name}: a sentinel check needs `sentinel:` on the component")
        return self

    def secret_values(self) -> list[str]:
        values = super().secret_values()
        if password := urlsplit(self.url).password:
            values.append(password)
        if self.sentinel is not None:
            values.extend(self.sentinel.secret_values())
        return values

    @property
    def socket_deadline(self) -> float:
        """The longest a single network wait may take; the scheduler checks it is below every check's timeout."""
        return max(self.connect_timeout, self.socket_timeout)


def cluster_problems(component: RedisComponent) -> None:
    """What a `cluster:` component may not combine (a ValueError naming the fields)."""
    if "url" in component.model_fields_set:
        raise ValueError("set exactly one of url or cluster, not both")
    if "{" in component.key_prefix or "}" in component.key_prefix:
        raise ValueError("key_prefix: no { or } on a cluster (Vigil adds the hash tag that places each canary)")
    for name, check in component.checks.items():
        if isinstance(check, RedisMemory) and any(c in key for key in check.priority_keys for c in "*?["):
            raise ValueError(f"checks.{name}.priority_keys: patterns are not supported on a cluster; list exact keys")
