"""How the `redis` checks judge what they measured: numbers and INFO fields in, findings and sentences out.

Pure: no I/O and no clock of its own, so every threshold and every wording is tested without a server.
"""

from __future__ import annotations

from dataclasses import dataclass

from app import units
from app.checks.judging import Finding, threshold
from app.checks.redis.config import RatioThresholds, RedisMemory, RedisSessionTtl
from app.checks.redis.server import Info, as_int
from app.model import Status


def ratio_findings(ratio: float, thresholds: RatioThresholds, load: str) -> list[Finding]:
    """A fail or warn finding when `ratio` reaches its threshold; `load` says what was measured."""
    found = threshold(ratio, load, warn=thresholds.warn_ratio, fail=thresholds.fail_ratio, shown=units.percent)
    return [] if found is None else [found]


# -- pool ---------------------------------------------------------------------------------------------------


def client_utilisation(connected: int | None, maxclients: int | None) -> float | None:
    return connected / maxclients if maxclients and connected is not None else None


def clients_in_use(connected: int | None, maxclients: int) -> str:
    ratio = client_utilisation(connected, maxclients) or 0.0
    return f"{connected} of maxclients {maxclients} connections in use ({units.percent(ratio)})"


def pool_findings(
    connected: int | None, maxclients: int | None, rejected_growth: int | None, thresholds: RatioThresholds
) -> list[Finding]:
    """The server's client table against maxclients, and any connection it turned away since the last run."""
    findings: list[Finding] = []
    if maxclients and (utilisation := client_utilisation(connected, maxclients)) is not None:
        findings.extend(ratio_findings(utilisation, thresholds, clients_in_use(connected, maxclients)))
    if rejected_growth:
        rejected = units.plural(rejected_growth, "client connection")
        findings.append((Status.WARN, f"{rejected} rejected since the last run (maxclients reached)"))
    return findings


def pool_summary(connected: int | None, maxclients: int | None) -> str:
    if maxclients is None:
        clients = "unknown clients" if connected is None else units.plural(connected, "client")
        return f"{clients} connected; maxclients unknown (not in INFO and CONFIG refused)"
    return clients_in_use(connected, maxclients)


# -- session_ttl --------------------------------------------------------------------------------------------


def canary_drift(written: float, pttl: int) -> float | None:
    """Seconds the TTL canary lost between SET and PTTL; None when the PTTL is not a TTL (-1, -2)."""
    return None if pttl < 0 else (int(written * 1000) - pttl) / 1000


def canary_findings(key: str, pttl: int, rtt: float, options: RedisSessionTtl) -> list[Finding]:
    """The TTL canary, read back right after it was written with `canary_ttl`: within `ttl_tolerance` plus the
    round trip, or something between Vigil and Redis (a clock, a proxy, eviction) is off."""
    if pttl == -1:
        return [(Status.FAIL, f"canary {key} was written with a TTL but has no expiry")]
    if pttl == -2:
        return [(Status.FAIL, f"canary {key} was gone right after it was written (evicted at once?)")]
    drift = canary_drift(options.canary_ttl, pttl) or 0.0
    if abs(drift) <= options.ttl_tolerance + rtt:
        return []
    return [
        (
            Status.WARN,
            f"canary TTL read back as {units.latency(pttl / 1000)} after writing {units.span(options.canary_ttl)} "
            f"(off by {units.latency(abs(drift))}, tolerance {units.span(options.ttl_tolerance)}): "
            "clock, proxy or eviction trouble",
        )
    ]


@dataclass(frozen=True, slots=True)
class Survival:
    """What the restart canary says: the findings, a note for the ok output, and the loss to latch, if any."""

    findings: list[Finding]
    note: str | None = None
    loss: str | None = None


@dataclass(frozen=True, slots=True)
class Failover:
    """The checks moved from one server to another since the last run (behind Sentinel): not a restart."""

    old: str
    new: str


def survival(
    key: str,
    seen: str | None,
    known: str | None,
    *,
    last_run_id: str | None,
    restarted: bool,
    started_at: float,
    failover: Failover | None = None,
) -> Survival:
    """The restart canary must outlive a restart. Its value is set once, when it is created (the run_id of the
    Redis process then, and a nonce: see commands.survival_value), and never rewritten; so every Vigil sharing it
    knows it by its value, and a value other than the one it knew means the canary it knew is gone, whoever
    noticed first and created the next one.

    `seen`: the value before this run touched it (None: gone); `known`: the value this Vigil saw or created on its
    last run (None: none yet); `last_run_id`: the run_id this Vigil saw then; `started_at`: when the server started;
    `failover`: the server changed since the last run (the new one is another process: the canary had to be
    replicated to it, and the words say failover, not restart).
    """
    event = "a redis restart" if failover is None else f"the failover from {failover.old} to {failover.new}"
    if known is None or seen == known:
        return Survival([], note=f"canary survived {event}" if restarted and known is not None else None)
    recreated = "" if seen is None else " and has been re-created since (by another Vigil sharing it)"
    # A canary re-created under the process this Vigil saw last was lost before the restart, and survived it.
    if restarted and (seen is None or birth_run_id(seen) != last_run_id):
        gone = "is gone" if seen is None else f"was gone{recreated}"
        if failover is None:
            loss = f"session data did not survive the restart of redis at {units.iso_timestamp(started_at)}: canary {key} {gone}"
        else:
            loss = f"session data did not survive {event}: canary {key} {gone}"
        return Survival([(Status.FAIL, loss)], loss=loss)
    return Survival([(Status.WARN, f"canary {key} vanished without a restart (evicted or deleted){recreated}")])


def birth_run_id(value: str) -> str:
    """The run_id of the Redis process a restart canary was created under (its value is `run_id:nonce`)."""
    return value.partition(":")[0]


def save_policy_text(save_policy: str | None) -> str:
    """The RDB `save` parameter as observed: `3600 1`, `off` (no save points), `unknown` (CONFIG refused)."""
    return "unknown" if save_policy is None else (save_policy.strip() or "off")


def persistence_findings(
    persistence: Info, save_policy: str | None, *, replica: bool = False
) -> tuple[list[Finding], str]:
    """What survives a restart: AOF, RDB save points, and whether the last writes of either failed.

    `save_policy` is None when the server refuses CONFIG: unknown is not "off", so it never warns. A replica
    without persistence does not warn either: after a restart it reloads the dataset from its primary."""
    findings: list[Finding] = []
    aof = as_int(persistence.get("aof_enabled")) == 1
    rdb = "unknown (CONFIG refused)" if save_policy is None else save_policy_text(save_policy)
    if not aof and save_policy is not None and not save_policy.strip() and not replica:
        findings.append(
            (Status.WARN, "no persistence (AOF off, no RDB save points): sessions will not survive a restart")
        )
    if aof and str(persistence.get("aof_last_write_status", "ok")) != "ok":
        findings.append((Status.WARN, "AOF writes are failing: recent sessions would not survive a restart"))
    if str(persistence.get("rdb_last_bgsave_status", "ok")) != "ok":
        findings.append((Status.WARN, "the last RDB save failed"))
    return findings, f"AOF {'on' if aof else 'off'}, RDB save {rdb}"


@dataclass(slots=True)
class TtlSample:
    """Session keys classified by their PTTL."""

    sampled: int = 0
    no_expiry: int = 0
    over_max: int = 0
    under_min: int = 0
    longest_ms: int = 0
    covered: bool = False  # the SCAN cursor came back to 0: the runs since the cycle began saw every session key

    def add(self, pttls: list[int], options: RedisSessionTtl) -> None:
        """Count PTTL replies; -2 (the key expired between SCAN and PTTL) is not a sample."""
        max_ms = int(options.max_ttl * 1000)
        min_ms = None if options.min_ttl is None else int(options.min_ttl * 1000)
        for pttl in pttls:
            if pttl == -2:
                continue
            self.sampled += 1
            if pttl == -1:
                self.no_expiry += 1
                continue
            self.longest_ms = max(self.longest_ms, pttl)
            if pttl > max_ms:
                self.over_max += 1
            if min_ms is not None and pttl < min_ms:
                self.under_min += 1


def sample_findings(sample: TtlSample, options: RedisSessionTtl) -> list[Finding]:
    """No expiry fails (a leak); above max_ttl warns; below min_ttl warns past min_ttl_ratio of the sample."""
    findings: list[Finding] = []
    of_sample = f"of {sample.sampled} sampled session keys ({options.pattern})"
    if sample.no_expiry:
        findings.append(
            (Status.FAIL, f"{sample.no_expiry} {of_sample} have no expiry: they never expire (a session leak)")
        )
    if sample.over_max:
        above = f"have a TTL above the {units.span(options.max_ttl)} maximum"
        longest = units.age(sample.longest_ms / 1000)
        findings.append((Status.WARN, f"{sample.over_max} {of_sample} {above} (longest {longest})"))
    if options.min_ttl is not None and sample.sampled and sample.under_min / sample.sampled > options.min_ttl_ratio:
        below = f"have a TTL below the {units.span(options.min_ttl)} minimum"
        findings.append((Status.WARN, f"{sample.under_min} {of_sample} {below}"))
    return findings


def read_only_mode(primary: str) -> str:
    """What session_ttl does on a replica, said in its output: Vigil writes nothing there."""
    return f"replica of {primary}, read-only mode: sampling only, no canary writes"


def session_summary(
    sample: TtlSample, options: RedisSessionTtl, note: str | None, persistence: str, *, read_only: str | None = None
) -> str:
    """The output of a run that found nothing wrong; `read_only`: the replica's mode, in place of the canaries."""
    expire = f"{sample.sampled} sampled session keys all expire within {units.span(options.max_ttl)}"
    canaries = read_only or "canary TTL within tolerance"
    parts = [canaries, expire, *([note] if note else []), f"persistence: {persistence}"]
    return "; ".join(parts)


# -- memory -------------------------------------------------------------------------------------------------


def memory_limit(maxmemory: int | None, system_memory: int | None) -> tuple[int | None, str]:
    """The limit used_memory is judged against, and its name: maxmemory, or the system's memory when it is 0."""
    if maxmemory:
        return maxmemory, "maxmemory"
    return system_memory or None, "system memory"


def memory_utilisation(used: int | None, limit: int | None) -> float | None:
    return used / limit if used is not None and limit else None


def memory_findings(
    used: int | None, limit: int | None, source: str, policy: str | None, options: RedisMemory
) -> list[Finding]:
    """Memory pressure against the limit, and an eviction policy outside the allowed set."""
    findings: list[Finding] = []
    if used is not None and limit:
        ratio = used / limit
        load = f"memory at {units.percent(ratio)} of {source} ({units.size(used)} of {units.size(limit)})"
        findings.extend(ratio_findings(ratio, options, load))
    if policy is not None and policy not in options.allowed_policies:
        findings.append(
            (
                Status.WARN,
                f"maxmemory-policy {policy} lets redis evict sessions and priority data under memory pressure "
                f"(allowed: {', '.join(options.allowed_policies)})",
            )
        )
    return findings


def priority_findings(missing_keys: list[str], patterns: dict[str, bool | None]) -> list[Finding]:
    """Exact priority keys found missing, then each pattern: False (a whole SCAN cycle matched no key) fails,
    None (the budget ran out before a match) warns."""
    findings: list[Finding] = [(Status.FAIL, f"priority key {key} missing") for key in missing_keys]
    for pattern, found in patterns.items():
        if found is False:
            findings.append((Status.FAIL, f"no key matches priority pattern {pattern}"))
        elif found is None:
            findings.append(
                (Status.WARN, f"priority pattern {pattern} not confirmed yet: no match within the scan budget")
            )
    return findings


def memory_summary(ratio: float | None, source: str, policy: str | None, priority_keys: int) -> str:
    usage = "unknown" if ratio is None else f"{units.percent(ratio)} of {source}"
    present = units.plural(priority_keys, "priority key")
    return f"memory {usage}, policy {policy or 'unknown'}, {present} present"
