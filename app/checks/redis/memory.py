"""The `memory` check: used memory against its limit, the eviction policy, and priority keys that must exist.

Remembers the server's identity, its evicted_keys counter, and each priority pattern's search (witness or cursor).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app import units
from app.checks.base import CheckContext
from app.checks.redis import judge
from app.checks.redis.commands import exists_batch
from app.checks.redis.config import RedisComponent, RedisMemory
from app.checks.redis.scan import PatternSearch, ScanBudget, find_any, is_pattern
from app.checks.redis.server import ServerIdentity, as_int, counter_growth, info, memory_settings
from app.clients.redis import RedisClient
from app.model import Limit, Observation, Outcome


@dataclass(slots=True)
class MemoryMemo:
    """What the memory check remembers: which server answered last, its evicted_keys counter, each pattern's search."""

    identity: ServerIdentity | None = None
    evicted_keys: int | None = None
    patterns: dict[str, PatternSearch] = field(default_factory=dict)


Context = CheckContext[RedisComponent, RedisMemory, RedisClient, MemoryMemo]


async def run(ctx: Context) -> Outcome:
    options, memo = ctx.options, ctx.memo
    mem, stats, server = await info(ctx.client, "memory", "stats", "server")
    identity = ServerIdentity.from_info(server)
    restarted = identity.restarted_since(memo.identity)
    used = as_int(mem.get("used_memory"))
    maxmemory, policy = await memory_settings(ctx.client, mem)
    limit, source = judge.memory_limit(maxmemory, as_int(mem.get("total_system_memory")))
    evicted = as_int(stats.get("evicted_keys"))
    evicted_growth = counter_growth(memo.evicted_keys, evicted, restarted)
    memo.identity, memo.evicted_keys = identity, evicted

    findings = judge.memory_findings(used, limit, source, policy, options)
    missing_keys, patterns, scan_calls = await look_for_priority_keys(ctx, restarted)
    findings.extend(judge.priority_findings(missing_keys, patterns))

    ratio = judge.memory_utilisation(used, limit)
    fragmentation = mem.get("mem_fragmentation_ratio")
    observed = [
        Observation("memory_used", used, "bytes"),
        Observation("memory_limit", limit, "bytes"),
        Observation("memory_limit_source", source if limit else "unknown"),
        Observation(
            "memory_utilisation",
            None if ratio is None else round(ratio, 6),
            "ratio",
            Limit(options.fail_ratio, f"{units.percent(options.fail_ratio)} of {source}"),  # forecast against it
        ),
        Observation("memory_fragmentation", None if fragmentation is None else float(fragmentation), "ratio"),
        Observation("maxmemory_policy", "unknown" if policy is None else policy),
        Observation("evicted_keys", evicted),
        Observation("evicted_keys_since_last_run", evicted_growth),
        Observation("priority_keys", len(options.priority_keys)),
        Observation("priority_keys_missing", len(missing_keys) + sum(found is False for found in patterns.values())),
        Observation("scan_calls", scan_calls),
    ]
    ok = judge.memory_summary(ratio, source, policy, len(options.priority_keys))
    return Outcome.from_findings(findings, observed, ok=ok)


async def look_for_priority_keys(ctx: Context, restarted: bool) -> tuple[list[str], dict[str, bool | None], int]:
    """The exact priority keys that are missing; for each pattern, whether a key matches (None: not known yet);
    and the SCAN calls spent. A pattern's last witness is checked with EXISTS first; SCAN only when it is gone."""
    options, searches = ctx.options, ctx.memo.patterns
    exact = [key for key in options.priority_keys if not is_pattern(key)]
    patterns = [key for key in options.priority_keys if is_pattern(key)]
    for pattern in patterns:
        if restarted or pattern not in searches:
            searches[pattern] = PatternSearch()
    witnesses = {p: witness for p in patterns if (witness := searches[p].witness) is not None}
    lookups: list[str | bytes] = [*exact, *witnesses.values()]
    replies = [int(exists) for exists in await ctx.client.pipeline(exists_batch(lookups))] if lookups else []
    missing = [key for key, exists in zip(exact, replies[: len(exact)], strict=True) if not exists]
    confirmed = {p for p, exists in zip(witnesses, replies[len(exact) :], strict=True) if exists}

    found: dict[str, bool | None] = {}
    budget = ScanBudget.for_run(options, ctx.remaining())  # shared by every pattern of this run
    for pattern in patterns:
        if pattern in confirmed:
            found[pattern] = True
            continue
        if searches[pattern].witness is not None:  # the key that matched last time is gone: search again, from 0
            searches[pattern] = PatternSearch()
        found[pattern] = await find_any(ctx.client, pattern, searches[pattern], budget)
    return missing, found, budget.calls
