"""The `sentinel` check: every Sentinel of the master asked at once (its state, its replicas, CKQUORUM), then judged.

Remembers the primary it saw last (FailoverMemo), to name both ends of a failover. A Sentinel that does not answer
before the check's deadline is named, never waited for past it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import redis.asyncio as aioredis

from app import units
from app.checks.base import CheckContext
from app.checks.redis import sentinel_judge as judge
from app.checks.redis.config import RedisComponent
from app.checks.redis.sentinel_config import RedisSentinel
from app.clients.redis_sentinel import SentinelClient, sentinel_commands
from app.model import Observation, Outcome

DEADLINE_SHARE = 0.8  # of the time left: Sentinels still silent then are named, and the run ends in time

FailoverMemo = judge.FailoverMemo


async def run(ctx: CheckContext[RedisComponent, RedisSentinel, SentinelClient, FailoverMemo]) -> Outcome:
    client, master = ctx.client, ctx.client.target.master

    async def ask(sentinel: aioredis.Redis) -> list[Any]:
        async with sentinel.pipeline(transaction=False) as pipe:
            for command in sentinel_commands(master):
                pipe.execute_command(*command)
            return list(await pipe.execute(raise_on_error=False))

    deadline = ctx.deadline - (1 - DEADLINE_SHARE) * ctx.remaining()
    late = f"within {units.latency(deadline - asyncio.get_running_loop().time())}"
    answers = await client.ask_sentinels("SENTINEL MASTER", ask, deadline, late)
    views = [
        judge.SentinelView(answer.address, error=answer.error)
        if answer.error is not None
        else judge.SentinelView.from_replies(answer.address, master, answer.reply)
        for answer in answers
    ]
    now = time.time()
    findings = judge.findings(master, views, ctx.options, ctx.memo, now)
    answered = [view for view in views if view.error is None]
    failover = ctx.memo.failover
    observed = [  # the first is /health's observedValue
        Observation("sentinels_reachable", len(answered)),
        Observation("sentinels_total", len(views)),
        Observation("quorum", max((v.quorum for v in answered if v.quorum is not None), default=None)),
        Observation("primary", judge.agreed_primary(answered)),
        Observation("replicas_up", max((len(v.replicas_up) for v in answered), default=None)),
        Observation("replicas_required", ctx.options.replicas_required),
        Observation("config_epoch", max((v.epoch for v in answered if v.epoch is not None), default=None)),
        Observation("last_failover_age", None if failover is None else round(now - failover[2], 3), "s"),
    ]
    return Outcome.from_findings(findings, observed, ok=judge.summary(master, views))
