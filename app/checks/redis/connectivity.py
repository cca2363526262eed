"""The `connectivity` check: a PING round trip, and which Redis answered (version, uptime).

Critical by default: it is the one Redis check that gates readiness.
"""

from __future__ import annotations

import time

from app import units
from app.checks import judging
from app.checks.base import CheckContext, NoMemo
from app.checks.redis.config import RedisComponent, RedisConnectivity
from app.checks.redis.server import info
from app.clients.redis import RedisClient
from app.model import Observation, Outcome, Status


async def run(ctx: CheckContext[RedisComponent, RedisConnectivity, RedisClient, NoMemo]) -> Outcome:
    started = time.perf_counter()
    await ctx.client.execute("PING")
    rtt = time.perf_counter() - started
    (server,) = await info(ctx.client, "server")
    version = str(server.get("redis_version", "unknown"))
    observed = (
        Observation("latency", round(rtt, 6), "s"),
        Observation("server_version", version),
        Observation("uptime", server.get("uptime_in_seconds"), "s"),
    )
    if (slow := judging.latency("PING", rtt, ctx.options.latency_warn)) is not None:
        return Outcome(*slow, observed)
    return Outcome(Status.PASS, f"PONG in {units.latency(rtt)} from redis {version}", observed)
