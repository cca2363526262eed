"""The `redis` component type: its config and its checks (connectivity, pool, session_ttl, memory).

Every check bounds its own work and writes nothing but Vigil's canary keys under `key_prefix`.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from redis.exceptions import AuthenticationError, BusyLoadingError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.checks.base import CheckContext, CheckKind, ComponentType
from app.clients.redis import PoolExhausted, RedisClient, RedisSettings
from app.model import Observation, Outcome, Status
from app.schema import CheckConfig, ComponentConfig, Duration, Severity

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


class RedisConnectivity(CheckConfig):
    """PING round trip and server version."""

    kind: Literal["connectivity"] = "connectivity"
    latency_warn: Duration | None = None  # warn when the PING round trip is slower


class RedisPool(CheckConfig):
    """Connection headroom: the server's client table against maxclients, rejections, and Vigil's own pool.

    Degraded, not critical: it measures capacity, not reachability (`connectivity` gates readiness). Pulling
    this service out of rotation when Redis nears maxclients frees no Redis connection and turns a warning
    into an outage; and a full Vigil pool is Vigil's own trouble, not the dependency's.
    """

    default_severity: ClassVar[Severity] = Severity.DEGRADED
    kind: Literal["pool"] = "pool"
    warn_ratio: float = Field(default=0.7, gt=0.0, le=1.0)  # connected_clients / maxclients
    fail_ratio: float = Field(default=0.9, gt=0.0, le=1.0)

    @model_validator(mode="after")
    def _ratios_ordered(self) -> RedisPool:
        if self.warn_ratio > self.fail_ratio:
            raise ValueError("warn_ratio must not be above fail_ratio")
        return self


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
    def _ttls_ordered(self) -> RedisSessionTtl:
        if self.min_ttl is not None and self.min_ttl >= self.max_ttl:
            raise ValueError("min_ttl must be below max_ttl")
        return self


class RedisMemory(ScanFields):
    """Memory pressure, the eviction policy, and priority keys that must never be evicted."""

    default_severity: ClassVar[Severity] = Severity.DEGRADED
    kind: Literal["memory"] = "memory"
    warn_ratio: float = Field(default=0.8, gt=0.0, le=1.0)  # used_memory / maxmemory (or system memory)
    fail_ratio: float = Field(default=0.95, gt=0.0, le=1.0)
    allowed_policies: tuple[str, ...] = SAFE_POLICIES
    priority_keys: tuple[str, ...] = ()  # exact keys, or glob patterns that must match at least one key

    @field_validator("allowed_policies")
    @classmethod
    def _known_policies(cls, policies: tuple[str, ...]) -> tuple[str, ...]:
        for policy in policies:
            if policy not in EVICTION_POLICIES:
                raise ValueError(f"unknown maxmemory-policy {policy!r}; use some of {', '.join(EVICTION_POLICIES)}")
        return policies

    @model_validator(mode="after")
    def _ratios_ordered(self) -> RedisMemory:
        if self.warn_ratio > self.fail_ratio:
            raise ValueError("warn_ratio must not be above fail_ratio")
        return self


RedisCheck = Annotated[
    RedisConnectivity | RedisPool | RedisSessionTtl | RedisMemory, Field(discriminator="kind")
]


def default_checks() -> dict[str, RedisCheck]:
    return {"connectivity": RedisConnectivity()}


class RedisComponent(ComponentConfig):
    secret_fields: ClassVar[tuple[str, ...]] = ("password",)

    type: Literal["redis"]
    url: str = "redis://127.0.0.1:6379/0"
    username: str | None = None
    password: SecretStr | None = None
    max_connections: int = Field(default=4, ge=1, le=1000)  # Vigil's own pool, per component
    pool_timeout: Duration = 0.5  # waiting for a free connection of Vigil's pool
    connect_timeout: Duration = 1.0
    socket_timeout: Duration = 1.0  # per command
    tls_ca_file: str | None = None  # CA bundle for rediss:// (default: the system's)
    tls_verify: bool = True  # verify the server's certificate and host name (rediss://)
    key_prefix: str = "vigil:"  # the only keys Vigil ever writes (canaries, with a TTL)
    checks: dict[str, RedisCheck] = Field(default_factory=default_checks)

    @field_validator("url")
    @classmethod
    def _url_scheme(cls, url: str) -> str:
        if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return url

    @model_validator(mode="after")
    def _timeouts_nest(self) -> RedisComponent:
        if not self.pool_timeout < self.socket_timeout:
            raise ValueError("pool_timeout must be shorter than socket_timeout")
        return self

    def secret_values(self) -> list[str]:
        values = super().secret_values()
        if password := urlsplit(self.url).password:
            values.append(password)
        return values

    @property
    def socket_deadline(self) -> float:
        """The longest a single network wait may take; the scheduler checks it is below every check's timeout."""
        return max(self.connect_timeout, self.socket_timeout)


def open_client(component: RedisComponent) -> RedisClient:
    return RedisClient(
        RedisSettings(
            url=component.url,
            password=component.password.get_secret_value() if component.password else None,
            username=component.username,
            max_connections=component.max_connections,
            pool_timeout=component.pool_timeout,
            connect_timeout=component.connect_timeout,
            socket_timeout=component.socket_timeout,
            tls_ca_file=component.tls_ca_file,
            tls_verify=component.tls_verify,
        )
    )


async def close_client(client: RedisClient) -> None:
    await client.close()


def ratio_findings(ratio: float, warn: float, fail: float, load: str) -> list[tuple[Status, str]]:
    """A fail or warn finding when `ratio` reaches its threshold; `load` says what was measured."""
    if ratio >= fail:
        return [(Status.FAIL, f"{load}, at or above the {percent(fail)} fail threshold")]
    if ratio >= warn:
        return [(Status.WARN, f"{load}, at or above the {percent(warn)} warn threshold")]
    return []


def parse_info(raw: Any) -> dict[str, Any]:
    """redis-py parses INFO into a dict already; keep a defensive copy."""
    return dict(raw) if isinstance(raw, dict) else {}


async def connectivity(ctx: CheckContext[Any, Any, RedisClient, Any]) -> Outcome:
    options: RedisConnectivity = ctx.options
    started = time.perf_counter()
    await ctx.client.execute("PING")
    rtt = time.perf_counter() - started
    info = parse_info(await ctx.client.execute("INFO", "server"))
    version = str(info.get("redis_version", "unknown"))
    observed = (
        Observation("latency", round(rtt, 6), "s"),
        Observation("server_version", version),
        Observation("uptime", info.get("uptime_in_seconds"), "s"),
    )
    if options.latency_warn is not None and rtt > options.latency_warn:
        return Outcome(Status.WARN, f"PING took {rtt * 1000:.1f} ms (budget {options.latency_warn * 1000:.0f} ms)", observed)
    return Outcome(Status.PASS, f"PONG in {rtt * 1000:.1f} ms from redis {version}", observed)


# -- shared pieces of the resilience checks -----------------------------------------------------------------


def canary_key(ctx: CheckContext[Any, Any, RedisClient, Any], name: str) -> str:
    """Vigil's own keys: under the component's prefix, one set per component and check."""
    return f"{ctx.component.key_prefix}{ctx.check_id.component}:{ctx.check_id.check}:{name}"


def as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def as_text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def percent(ratio: float) -> str:
    return f"{ratio * 100:.0f}%"


def mib(size: int) -> str:
    return f"{size / 1048576:.1f} MiB"


@dataclass(slots=True)
class ServerIdentity:
    """Which Redis process answered: a new run_id (or a smaller uptime) means it restarted since the last run."""

    run_id: str
    uptime: int | None

    @classmethod
    def from_info(cls, server: dict[str, Any]) -> ServerIdentity:
        return cls(str(server.get("run_id", "")), as_int(server.get("uptime_in_seconds")))

    def restarted_since(self, memo: dict[str, Any]) -> bool:
        previous_id, previous_uptime = memo.get("run_id"), memo.get("uptime")
        if previous_id is None:
            return False
        if previous_id != self.run_id:
            return True
        return previous_uptime is not None and self.uptime is not None and self.uptime < previous_uptime

    def remember(self, memo: dict[str, Any]) -> None:
        memo["run_id"], memo["uptime"] = self.run_id, self.uptime


def counter_growth(memo: dict[str, Any], name: str, value: int | None, restarted: bool) -> int | None:
    """Growth of a server counter since the last run (the whole counter after a restart; None on a first run)."""
    previous = memo.get(name)
    memo[name] = value
    if value is None or previous is None and not restarted:
        return None
    if restarted or previous is None:
        return value
    return max(0, value - int(previous))


@dataclass(slots=True)
class ScanBudget:
    """Bounds one run's SCAN work: at most max_calls calls of COUNT scan_count, and a wall-time limit."""

    count: int
    max_calls: int
    ends_at: float  # loop time
    calls: int = 0

    @classmethod
    def for_run(cls, ctx: CheckContext[Any, Any, RedisClient, Any], options: ScanFields) -> ScanBudget:
        loop_now = asyncio.get_running_loop().time()
        seconds = min(options.scan_time, ctx.remaining() / 2)  # the rest of the deadline is for the other steps
        return cls(options.scan_count, math.ceil(options.max_keys / options.scan_count), loop_now + seconds)

    def allows_another(self) -> bool:
        return self.calls < self.max_calls and asyncio.get_running_loop().time() < self.ends_at

    async def scan(self, client: RedisClient, cursor: int, pattern: str) -> tuple[int, list[bytes]]:
        self.calls += 1
        return await client.scan(cursor, pattern, self.count)


async def info(client: RedisClient, *sections: str) -> list[dict[str, Any]]:
    """Several INFO sections in one round trip (one section per INFO, which every Redis version accepts)."""
    replies = await client.pipeline([("INFO", section) for section in sections])
    return [dict(reply) if isinstance(reply, dict) else {} for reply in replies]


def vigil_pool(client: RedisClient) -> list[Observation]:
    return [Observation("vigil_pool_in_use", client.in_use), Observation("vigil_pool_max", client.max_connections)]


# -- pool ---------------------------------------------------------------------------------------------------


async def maxclients_of(client: RedisClient, clients_info: dict[str, Any]) -> tuple[int | None, str]:
    """maxclients and where it came from: INFO clients (Redis 7+), else CONFIG GET, else unknown."""
    if (value := as_int(clients_info.get("maxclients"))) is not None:
        return value, "info"
    if (value := as_int(await client.config_get("maxclients"))) is not None:
        return value, "config"
    return None, "unknown"


async def pool(ctx: CheckContext[Any, Any, RedisClient, Any]) -> Outcome:
    options: RedisPool = ctx.options
    own = vigil_pool(ctx.client)  # before this run takes a connection
    try:
        clients, stats, server = await info(ctx.client, "clients", "stats", "server")
    except PoolExhausted as exc:
        return Outcome(Status.FAIL, str(exc), tuple(own))
    identity = ServerIdentity.from_info(server)
    restarted = identity.restarted_since(ctx.memo)
    connected = as_int(clients.get("connected_clients"))
    blocked = as_int(clients.get("blocked_clients"))
    maxclients, source = await maxclients_of(ctx.client, clients)
    rejected = as_int(stats.get("rejected_connections"))
    rejected_growth = counter_growth(ctx.memo, "rejected_connections", rejected, restarted)
    identity.remember(ctx.memo)

    findings: list[tuple[Status, str]] = []
    utilisation = None
    if maxclients and connected is not None:
        utilisation = connected / maxclients
        load = f"{connected} of maxclients {maxclients} connections in use ({percent(utilisation)})"
        findings.extend(ratio_findings(utilisation, options.warn_ratio, options.fail_ratio, load))
    if rejected_growth:
        plural = "s" if rejected_growth != 1 else ""
        rejections = f"{rejected_growth} client connection{plural} rejected since the last run (maxclients reached)"
        findings.append((Status.WARN, rejections))

    observed = [
        Observation("connected_clients", connected),
        Observation("maxclients", maxclients),
        Observation("maxclients_source", source),
        Observation("client_utilisation", None if utilisation is None else round(utilisation, 4), "ratio"),
        Observation("blocked_clients", blocked),
        Observation("rejected_connections", rejected),
        Observation("rejected_connections_since_last_run", rejected_growth),
        *own,
    ]
    if maxclients is None:
        ok = f"{connected} clients connected; maxclients unknown (not in INFO and CONFIG refused)"
    else:
        ok = f"{connected} of maxclients {maxclients} connections in use ({percent(utilisation or 0.0)})"
    return Outcome.from_findings(findings, observed, ok=ok)


# -- session_ttl --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class TtlSample:
    sampled: int = 0
    no_expiry: int = 0
    over_max: int = 0
    under_min: int = 0
    longest_ms: int = 0
    covered: bool = False  # the SCAN cursor came back to 0: the runs since the cycle began saw every session key


@dataclass(slots=True)
class SessionScan:
    """Where the sampling stands between runs: the SCAN cursor, and keys SCAN returned past the last run's budget
    (looked at first next run, so the key cap is strict and no key of the cycle is skipped)."""

    pattern: str
    cursor: int = 0
    pending: list[bytes] = field(default_factory=list)
    wrapped: bool = False  # the cursor came back to 0 with keys still pending: the cycle ends once they are seen


async def sample_session_ttls(
    ctx: CheckContext[Any, Any, RedisClient, Any], options: RedisSessionTtl, budget: ScanBudget, scan: SessionScan
) -> TtlSample:
    """Continue the SCAN of the session pattern within the budget and classify each key's PTTL."""
    sample = TtlSample()
    max_ms = int(options.max_ttl * 1000)
    min_ms = None if options.min_ttl is None else int(options.min_ttl * 1000)
    examined = 0
    wrapped = scan.wrapped
    while True:
        room = options.max_keys - examined
        if scan.pending and room > 0:
            batch, scan.pending = scan.pending[:room], scan.pending[room:]
            examined += len(batch)
            for pttl in await ctx.client.pipeline([("PTTL", key) for key in batch]):
                pttl = int(pttl)
                if pttl == -2:  # expired between SCAN and PTTL
                    continue
                sample.sampled += 1
                if pttl == -1:
                    sample.no_expiry += 1
                    continue
                sample.longest_ms = max(sample.longest_ms, pttl)
                if pttl > max_ms:
                    sample.over_max += 1
                if min_ms is not None and pttl < min_ms:
                    sample.under_min += 1
        if wrapped or examined >= options.max_keys or not budget.allows_another():
            break
        scan.cursor, keys = await budget.scan(ctx.client, scan.cursor, options.pattern)
        scan.pending.extend(keys)
        wrapped = scan.cursor == 0
    scan.wrapped = wrapped and bool(scan.pending)
    sample.covered = wrapped and not scan.pending
    return sample


def persistence_findings(persistence: dict[str, Any], save_policy: str | None) -> tuple[list[tuple[Status, str]], str]:
    """What survives a restart: AOF, RDB save points, and whether the last writes of either failed."""
    findings: list[tuple[Status, str]] = []
    aof = as_int(persistence.get("aof_enabled")) == 1
    rdb = "unknown (CONFIG refused)" if save_policy is None else (save_policy.strip() or "off")
    if not aof and save_policy is not None and not save_policy.strip():
        findings.append(
            (Status.WARN, "no persistence (AOF off, no RDB save points): sessions will not survive a restart")
        )
    if aof and str(persistence.get("aof_last_write_status", "ok")) != "ok":
        findings.append((Status.WARN, "AOF writes are failing: recent sessions would not survive a restart"))
    if str(persistence.get("rdb_last_bgsave_status", "ok")) != "ok":
        findings.append((Status.WARN, "the last RDB save failed"))
    return findings, f"AOF {'on' if aof else 'off'}, RDB save {rdb}"


async def session_ttl(ctx: CheckContext[Any, Any, RedisClient, Any]) -> Outcome:
    options: RedisSessionTtl = ctx.options
    client, memo = ctx.client, ctx.memo
    server, persistence = await info(client, "server", "persistence")
    identity = ServerIdentity.from_info(server)
    restarted = identity.restarted_since(memo)
    findings: list[tuple[Status, str]] = []
    notes: list[str] = []

    # Canaries, one round trip: read the restart canary, then rewrite it and the TTL canary.
    survival_key, ttl_key = canary_key(ctx, "survival"), canary_key(ctx, "ttl")
    canary_ms = int(options.canary_ttl * 1000)
    survival_ms = int(max(options.survival_ttl, 3 * ctx.schedule.interval) * 1000)
    sent = time.perf_counter()
    previous, _, _, pttl = await client.pipeline([
        ("GET", survival_key),
        ("SET", survival_key, identity.run_id, "PX", survival_ms),
        ("SET", ttl_key, "1", "PX", canary_ms),
        ("PTTL", ttl_key),
    ])
    rtt = time.perf_counter() - sent
    drift = None
    pttl = int(pttl)
    if pttl == -1:
        findings.append((Status.FAIL, f"canary {ttl_key} was written with a TTL but has no expiry"))
    elif pttl == -2:
        findings.append((Status.FAIL, f"canary {ttl_key} was gone right after it was written (evicted at once?)"))
    else:
        drift = (canary_ms - pttl) / 1000
        if abs(drift) > options.ttl_tolerance + rtt:
            findings.append((
                Status.WARN,
                (
                    f"canary TTL read back {pttl / 1000:.3f}s after writing {options.canary_ttl:g}s "
                    f"(off by {drift:.3f}s, tolerance {options.ttl_tolerance:g}s): clock, proxy or eviction trouble"
                ),
            ))

    # Survival: the restart canary must outlive a restart of Redis.
    loss = None
    if previous is None and memo.get("survival_written"):
        if restarted:
            started_at = time.time() - (identity.uptime or 0)
            when = datetime.fromtimestamp(started_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            loss = f"session data did not survive the restart of redis at {when}: canary {survival_key} is gone"
            findings.append((Status.FAIL, loss))
        else:
            findings.append((Status.WARN, f"canary {survival_key} vanished without a restart (evicted or deleted)"))
    elif previous is not None and as_text(previous) != identity.run_id:
        notes.append("canary survived a redis restart")

    save_policy = await client.config_get("save")
    persistence_problems, persistence_text = persistence_findings(persistence, save_policy)
    findings.extend(persistence_problems)

    # Sampling: continue the SCAN where the last run stopped, so runs cover the keyspace in turn.
    scan = memo.get("scan")
    if not isinstance(scan, SessionScan) or restarted or scan.pattern != options.pattern:
        memo["scan"] = scan = SessionScan(options.pattern)
    budget = ScanBudget.for_run(ctx, options)
    started = time.perf_counter()
    sample = await sample_session_ttls(ctx, options, budget, scan)
    sampling_time = time.perf_counter() - started

    of_sample = f"of {sample.sampled} sampled session keys ({options.pattern})"
    if sample.no_expiry:
        leak = f"{sample.no_expiry} {of_sample} have no expiry: they never expire (a session leak)"
        findings.append((Status.FAIL, leak))
    if sample.over_max:
        findings.append((
            Status.WARN,
            (
                f"{sample.over_max} {of_sample} have a TTL above the {options.max_ttl:g}s maximum "
                f"(longest {sample.longest_ms / 1000:.0f}s)"
            ),
        ))
    if options.min_ttl is not None and sample.sampled and sample.under_min / sample.sampled > options.min_ttl_ratio:
        findings.append((
            Status.WARN,
            f"{sample.under_min} {of_sample} have a TTL below the {options.min_ttl:g}s minimum",
        ))

    memo["survival_written"] = True
    identity.remember(memo)
    observed = [
        Observation("canary_ttl_drift", None if drift is None else round(drift, 4), "s"),
        Observation("sessions_sampled", sample.sampled),
        Observation("sessions_no_expiry", sample.no_expiry),
        Observation("sessions_ttl_over_max", sample.over_max),
        Observation("sessions_ttl_under_min", sample.under_min),
        Observation("scan_calls", budget.calls),
        Observation("sampling_cycle_complete", sample.covered),
        Observation("sampling_time", round(sampling_time, 6), "s"),
        Observation("redis_restarted", restarted),
        Observation("uptime", identity.uptime, "s"),
        Observation("aof_enabled", as_int(persistence.get("aof_enabled")) == 1),
        Observation("rdb_save_policy", "unknown" if save_policy is None else (save_policy.strip() or "off")),
    ]
    ok = f"canary TTL within tolerance; {sample.sampled} sampled session keys all expire within {options.max_ttl:g}s"
    ok = "; ".join([ok, *notes, f"persistence: {persistence_text}"])
    return replace(Outcome.from_findings(findings, observed, ok=ok), latch=loss)


# -- memory -------------------------------------------------------------------------------------------------


def is_pattern(key: str) -> bool:
    return any(c in key for c in "*?[")


@dataclass(slots=True)
class PatternSearch:
    """A priority pattern's search, kept in the memo: a key that matched (the witness), or where SCAN is.

    A search starts at cursor 0 and goes on across runs until a key matches or the cursor comes back to 0, so
    "no key matches" always means a whole SCAN cycle found none; a known witness costs one EXISTS per run.
    """

    witness: bytes | None = None
    cursor: int = 0


async def find_any(
    ctx: CheckContext[Any, Any, RedisClient, Any], pattern: str, search: PatternSearch, budget: ScanBudget
) -> bool | None:
    """Whether some key matches: True, False (a whole SCAN cycle found none), None (not known yet: budget spent)."""
    while budget.allows_another():
        search.cursor, keys = await budget.scan(ctx.client, search.cursor, pattern)
        if keys:
            search.witness, search.cursor = keys[0], 0
            return True
        if search.cursor == 0:
            return False
    return None


async def priority_findings(
    ctx: CheckContext[Any, Any, RedisClient, Any], options: RedisMemory, restarted: bool
) -> tuple[list[tuple[Status, str]], int, int]:
    """Missing priority keys and patterns. EXISTS and SCAN do not touch a key's LRU/LFU data, so looking cannot
    keep a key alive under an allkeys-* policy and hide the problem."""
    findings: list[tuple[Status, str]] = []
    searches: dict[str, PatternSearch] = ctx.memo.setdefault("patterns", {})
    patterns = [key for key in options.priority_keys if is_pattern(key)]
    for pattern in patterns:
        if restarted or pattern not in searches:
            searches[pattern] = PatternSearch()
    exact = [key for key in options.priority_keys if not is_pattern(key)]
    witnessed = [p for p in patterns if searches[p].witness is not None]
    lookups = [*exact, *(searches[p].witness for p in witnessed)]
    replies = await ctx.client.pipeline([("EXISTS", key) for key in lookups]) if lookups else []
    missing = 0
    for key, exists in zip(exact, replies, strict=False):
        if not int(exists):
            missing += 1
            findings.append((Status.FAIL, f"priority key {key} missing"))
    confirmed = {p for p, exists in zip(witnessed, replies[len(exact) :], strict=True) if int(exists)}
    budget = ScanBudget.for_run(ctx, options)  # shared by every pattern of this run
    for pattern in patterns:
        if pattern in confirmed:
            continue
        search = searches[pattern]
        if search.witness is not None:  # the key that matched last time is gone: search again, from the start
            searches[pattern] = search = PatternSearch()
        found = await find_any(ctx, pattern, search, budget)
        if found is False:
            missing += 1
            findings.append((Status.FAIL, f"no key matches priority pattern {pattern}"))
        elif found is None:
            unconfirmed = f"priority pattern {pattern} not confirmed yet: no match within the scan budget"
            findings.append((Status.WARN, unconfirmed))
    return findings, missing, budget.calls


async def memory(ctx: CheckContext[Any, Any, RedisClient, Any]) -> Outcome:
    options: RedisMemory = ctx.options
    mem, stats, server = await info(ctx.client, "memory", "stats", "server")
    identity = ServerIdentity.from_info(server)
    restarted = identity.restarted_since(ctx.memo)
    used = as_int(mem.get("used_memory"))
    maxmemory = as_int(mem.get("maxmemory"))
    if maxmemory is None:  # servers before 4.0 keep it out of INFO
        maxmemory = as_int(await ctx.client.config_get("maxmemory"))
    policy = mem.get("maxmemory_policy") or await ctx.client.config_get("maxmemory-policy")
    limit: int | None
    if maxmemory:
        limit, source = maxmemory, "maxmemory"
    else:
        limit, source = as_int(mem.get("total_system_memory")) or None, "system memory"
    evicted = as_int(stats.get("evicted_keys"))
    evicted_growth = counter_growth(ctx.memo, "evicted_keys", evicted, restarted)
    identity.remember(ctx.memo)

    findings: list[tuple[Status, str]] = []
    ratio = None
    if used is not None and limit:
        ratio = used / limit
        load = f"memory at {percent(ratio)} of {source} ({mib(used)} of {mib(limit)})"
        findings.extend(ratio_findings(ratio, options.warn_ratio, options.fail_ratio, load))
    if policy is not None and str(policy) not in options.allowed_policies:
        findings.append((
            Status.WARN,
            (
                f"maxmemory-policy {policy} lets redis evict sessions and priority data under memory pressure "
                f"(allowed: {', '.join(options.allowed_policies)})"
            ),
        ))
    priority, missing, scan_calls = await priority_findings(ctx, options, restarted)
    findings.extend(priority)

    fragmentation = mem.get("mem_fragmentation_ratio")
    observed = [
        Observation("memory_used", used, "bytes"),
        Observation("memory_limit", limit, "bytes"),
        Observation("memory_limit_source", source if limit else "unknown"),
        Observation("memory_utilisation", None if ratio is None else round(ratio, 6), "ratio"),
        Observation("memory_fragmentation", None if fragmentation is None else float(fragmentation), "ratio"),
        Observation("maxmemory_policy", "unknown" if policy is None else str(policy)),
        Observation("evicted_keys", evicted),
        Observation("evicted_keys_since_last_run", evicted_growth),
        Observation("priority_keys", len(options.priority_keys)),
        Observation("priority_keys_missing", missing),
        Observation("scan_calls", scan_calls),
    ]
    usage = "unknown" if ratio is None else f"{percent(ratio)} of {source}"
    ok = f"memory {usage}, policy {policy or 'unknown'}, {len(options.priority_keys)} priority keys present"
    return Outcome.from_findings(findings, observed, ok=ok)


_NO_CREDENTIALS = ("NOAUTH", "Authentication required", "HELLO must be called with the client already authenticated")


def describe_error(exc: BaseException) -> str | None:
    """Redis errors as sentences (the scheduler scrubs secrets from them afterwards)."""
    if isinstance(exc, PoolExhausted):
        return str(exc)
    if isinstance(exc, AuthenticationError):
        if any(marker in str(exc) for marker in _NO_CREDENTIALS):
            return "redis requires authentication and this component has no password: set password or password_file"
        return f"redis refused Vigil's credentials: {exc}"
    if isinstance(exc, BusyLoadingError):
        return "redis is loading its dataset into memory and not serving yet"
    if isinstance(exc, RedisConnectionError):
        return f"cannot reach redis: {exc}"
    if isinstance(exc, RedisTimeoutError):
        return f"redis did not answer within the socket timeout: {exc}"
    if isinstance(exc, ResponseError):
        return f"redis refused a command: {exc}"
    return None


REDIS = ComponentType(
    config=RedisComponent,
    kinds=(
        CheckKind(RedisConnectivity, connectivity, dict),
        CheckKind(RedisPool, pool, dict),
        CheckKind(RedisSessionTtl, session_ttl, dict),
        CheckKind(RedisMemory, memory, dict),
    ),
    open_client=open_client,
    close_client=close_client,
    describe_error=describe_error,
)
