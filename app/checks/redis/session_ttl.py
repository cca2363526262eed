"""The `session_ttl` check: a TTL canary, a restart canary, persistence, and a bounded SCAN sample of session keys.

Remembers the server's identity (restarts), whether the restart canary was written, and where the sampling SCAN is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from app.checks.base import CheckContext
from app.checks.redis import judge
from app.checks.redis.commands import canary_key, canary_round_trip, pttl_batch
from app.checks.redis.config import RedisComponent, RedisSessionTtl
from app.checks.redis.scan import ScanBudget, SessionScan
from app.checks.redis.server import ServerIdentity, as_int, as_text, info
from app.clients.redis import RedisClient
from app.model import Observation, Outcome


@dataclass(slots=True)
class SessionMemo:
    """What the session_ttl check remembers: which server answered last, the restart canary, the sampling SCAN."""

    identity: ServerIdentity | None = None
    survival_written: bool = False  # a run wrote the restart canary: from then on, its absence is news
    scan: SessionScan | None = None


async def run(ctx: CheckContext[RedisComponent, RedisSessionTtl, RedisClient, SessionMemo]) -> Outcome:
    options, client, memo = ctx.options, ctx.client, ctx.memo
    server, persistence = await info(client, "server", "persistence")
    identity = ServerIdentity.from_info(server)
    restarted = identity.restarted_since(memo.identity)

    # Canaries, one round trip: read the restart canary, then rewrite it and the TTL canary.
    survival_key = canary_key(ctx.component.key_prefix, ctx.check_id, "survival")
    ttl_key = canary_key(ctx.component.key_prefix, ctx.check_id, "ttl")
    survival_ttl = max(options.survival_ttl, 3 * ctx.schedule.interval)
    sent = time.perf_counter()
    previous, _, _, pttl = await client.pipeline(
        canary_round_trip(survival_key, identity.run_id, survival_ttl, ttl_key, options.canary_ttl)
    )
    rtt = time.perf_counter() - sent
    findings = judge.canary_findings(ttl_key, int(pttl), rtt, options)
    survival = judge.survival(
        survival_key,
        None if previous is None else as_text(previous),
        written_before=memo.survival_written,
        restarted=restarted,
        run_id=identity.run_id,
        started_at=time.time() - (identity.uptime or 0),
    )
    findings.extend(survival.findings)

    save_policy = await client.config_get("save")
    persistence_problems, persistence_text = judge.persistence_findings(persistence, save_policy)
    findings.extend(persistence_problems)

    # Sampling: continue the SCAN where the last run stopped, so runs cover the keyspace in turn.
    if memo.scan is None or restarted or memo.scan.pattern != options.pattern:
        memo.scan = SessionScan(options.pattern)
    budget = ScanBudget.for_run(options, ctx.remaining())
    started = time.perf_counter()
    sample = await sample_ttls(client, options, budget, memo.scan)
    sampling_time = time.perf_counter() - started
    findings.extend(judge.sample_findings(sample, options))

    memo.survival_written, memo.identity = True, identity
    drift = judge.canary_drift(options.canary_ttl, int(pttl))
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
        Observation("rdb_save_policy", judge.save_policy_text(save_policy)),
    ]
    ok = judge.session_summary(sample, options, survival.note, persistence_text)
    return replace(Outcome.from_findings(findings, observed, ok=ok), latch=survival.loss)


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
