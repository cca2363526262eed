"""The `session_ttl` check: a TTL canary, a restart canary, persistence, and a bounded SCAN sample of session keys.

Remembers the server's identity (restarts), the restart canary it knows, and where the sampling SCAN is. On a
replica it writes nothing: sampling and persistence only.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, replace

from app.checks.base import CheckContext
from app.checks.judging import Finding
from app.checks.redis import judge
from app.checks.redis.commands import canary_key, canary_round_trip, pttl_batch, survival_value
from app.checks.redis.config import RedisComponent, RedisSessionTtl
from app.checks.redis.scan import ScanBudget, SessionScan
from app.checks.redis.server import (
    ServerIdentity,
    as_int,
    as_text,
    info,
    is_replica,
    memory_settings,
    primary_address,
)
from app.clients.redis import RedisClient
from app.clients.redis_errors import OutOfMemory, refusing_writes
from app.model import Observation, Outcome, Status


@dataclass(slots=True)
class SessionMemo:
    """What the session_ttl check remembers: which server answered last, the restart canary, the sampling SCAN."""

    identity: ServerIdentity | None = None
    canary: str | None = None  # the restart canary's value when this check last saw it (None: none known)
    scan: SessionScan | None = None


Context = CheckContext[RedisComponent, RedisSessionTtl, RedisClient, SessionMemo]


@dataclass(frozen=True, slots=True)
class Canaries:
    """What one round trip of canaries found."""

    findings: list[Finding]
    survival: judge.Survival
    drift: float | None  # seconds the TTL canary lost between SET and PTTL; None when not measured
    value: str | None  # the restart canary's value now (None: none, e.g. on a replica or refused for OOM)


async def run(ctx: Context) -> Outcome:
    options, client, memo = ctx.options, ctx.client, ctx.memo
    server, persistence, replication = await info(client, "server", "persistence", "replication")
    identity = ServerIdentity.from_info(server, client.address)
    restarted = identity.restarted_since(memo.identity)
    replica = is_replica(replication)

    if replica:  # read-only: a replica refuses writes, and its keys are its primary's (if promoted: a fresh start)
        canaries = Canaries([], judge.Survival([]), None, None)
        read_only: str | None = judge.read_only_mode(primary_address(replication))
    else:
        canaries = await check_canaries(ctx, identity, restarted)
        read_only = None
    findings = list(canaries.findings)

    save_policy = await client.config_get("save")
    persistence_problems, persistence_text = judge.persistence_findings(persistence, save_policy, replica=replica)
    findings.extend(persistence_problems)

    # Sampling: continue the SCAN where the last run stopped, so runs cover the keyspace in turn.
    if memo.scan is None or restarted or memo.scan.pattern != options.pattern:
        memo.scan = SessionScan(options.pattern)
    budget = ScanBudget.for_run(options, ctx.remaining())
    started = time.perf_counter()
    sample = await sample_ttls(client, options, budget, memo.scan)
    sampling_time = time.perf_counter() - started
    findings.extend(judge.sample_findings(sample, options))

    # The memory moves on only with a run that got this far: a run that raised is judged again by the next one.
    memo.identity, memo.canary = identity, canaries.value
    observed = [  # the first is /health's observedValue
        Observation("canary_ttl_drift", None if canaries.drift is None else round(canaries.drift, 4), "s"),
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
        Observation("rdb_save_policy", judge.save_policy_text(save_policy)),
        Observation("read_only", replica),
    ]
    survival = canaries.survival
    ok = judge.session_summary(sample, options, survival.note, persistence_text, read_only=read_only)
    outcome = Outcome.from_findings(findings, observed, ok=ok)
    if read_only is not None and outcome.status is not Status.PASS:
        outcome = replace(outcome, output=f"{outcome.output}; {read_only}")
    return replace(outcome, latch=survival.loss)


async def check_canaries(ctx: Context, identity: ServerIdentity, restarted: bool) -> Canaries:
    """One round trip: the restart canary read (and created if gone), the TTL canary written and read back.

    A write refused because Redis is out of memory is a finding worded for the application, not an error: the
    reads of the same round trip still tell whether the restart canary survived."""
    options, memo = ctx.options, ctx.memo  # memo is read here, updated by run() once the run is through
    survival_key = canary_key(ctx.component.key_prefix, ctx.check_id, "survival")
    ttl_key = canary_key(ctx.component.key_prefix, ctx.check_id, "ttl")
    survival_ttl = max(options.survival_ttl, 3 * ctx.schedule.interval)
    created = survival_value(identity.run_id, secrets.token_hex(4))
    commands = canary_round_trip(survival_key, created, survival_ttl, ttl_key, options.canary_ttl)
    sent = time.perf_counter()
    replies = await ctx.client.pipeline(commands, raise_on_error=False)
    rtt = time.perf_counter() - sent
    refused = [reply for reply in replies if isinstance(reply, Exception)]
    for error in refused:
        if not isinstance(error, OutOfMemory):
            raise error
    before, _, _, now, _, pttl = replies

    survival = judge.survival(
        survival_key,
        None if before is None else as_text(before),
        memo.canary,
        last_run_id=None if memo.identity is None else memo.identity.run_id,
        restarted=restarted,
        started_at=time.time() - (identity.uptime or 0),
        failover=judge.Failover(moved, identity.address) if (moved := identity.moved_from(memo.identity)) else None,
    )
    value = None if now is None else as_text(now)
    if refused:  # the TTL canary was not written: its PTTL says nothing
        (memory,) = await info(ctx.client, "memory")
        _, policy = await memory_settings(ctx.client, memory)
        return Canaries([(Status.FAIL, refusing_writes(policy)), *survival.findings], survival, None, value)
    findings = judge.canary_findings(ttl_key, int(pttl), rtt, options)
    drift = judge.canary_drift(options.canary_ttl, int(pttl))
    return Canaries([*findings, *survival.findings], survival, drift, value)


async def sample_ttls(
    client: RedisClient, options: RedisSessionTtl, budget: ScanBudget, scan: SessionScan
) -> judge.TtlSample:
    """Continue the SCAN of the session pattern within the budget (at most max_keys keys examined) and classify
    each key's PTTL. Keys SCAN returned past the key cap wait in `scan.pending` for the next run."""
    sample = judge.TtlSample()
    examined = 0
    wrapped = scan.wrapped
    while True:
        if batch := scan.take(options.max_keys - examined):
            examined += len(batch)
            sample.add([int(pttl) for pttl in await client.pipeline(pttl_batch(batch))], options)
        if wrapped or examined >= options.max_keys or not budget.allows_another():
            break
        wrapped = await scan.advance(client, budget)
    scan.wrapped = wrapped and bool(scan.pending)
    sample.covered = wrapped and not scan.pending
    return sample
