"""The `pool` check: connection headroom on the server (clients against maxclients, rejections) and in Vigil's own
pool. Remembers the server's identity and its rejected_connections counter, to report growth since the last run.
"""

from __future__ import annotations

from dataclasses import dataclass

from app import units
from app.checks.base import CheckContext
from app.checks.redis import judge
from app.checks.redis.config import RedisComponent, RedisPool
from app.checks.redis.server import ServerIdentity, as_int, counter_growth, info, maxclients_of
from app.clients.errors import PoolExhausted
from app.clients.redis import RedisClient
from app.model import Limit, Observation, Outcome, Status


@dataclass(slots=True)
class PoolMemo:
    """What the pool check remembers: which server answered last, and its rejected_connections counter then."""

    identity: ServerIdentity | None = None
    rejected_connections: int | None = None


def vigil_pool(client: RedisClient) -> list[Observation]:
    return [Observation("vigil_pool_in_use", client.in_use), Observation("vigil_pool_max", client.max_connections)]


async def run(ctx: CheckContext[RedisComponent, RedisPool, RedisClient, PoolMemo]) -> Outcome:
    memo = ctx.memo
    own = vigil_pool(ctx.client)  # before this run takes a connection
    try:
        clients, stats, server = await info(ctx.client, "clients", "stats", "server")
    except PoolExhausted as exc:
        return Outcome(Status.FAIL, str(exc), tuple(own))
    identity = ServerIdentity.from_info(server)
    restarted = identity.restarted_since(memo.identity)
    connected = as_int(clients.get("connected_clients"))
    maxclients, source = await maxclients_of(ctx.client, clients)
    rejected = as_int(stats.get("rejected_connections"))
    rejected_growth = counter_growth(memo.rejected_connections, rejected, restarted)
    memo.identity, memo.rejected_connections = identity, rejected

    utilisation = judge.client_utilisation(connected, maxclients)
    observed = [
        Observation("connected_clients", connected),
        Observation("maxclients", maxclients),
        Observation("maxclients_source", source),
        Observation(
            "client_utilisation",
            None if utilisation is None else round(utilisation, 4),
            "ratio",
            Limit(ctx.options.fail_ratio, f"{units.percent(ctx.options.fail_ratio)} of maxclients"),  # forecast
        ),
        Observation("blocked_clients", as_int(clients.get("blocked_clients"))),
        Observation("rejected_connections", rejected),
        Observation("rejected_connections_since_last_run", rejected_growth),
        *own,
    ]
    findings = judge.pool_findings(connected, maxclients, rejected_growth, ctx.options)
    return Outcome.from_findings(findings, observed, ok=judge.pool_summary(connected, maxclients))
