"""How the `redis` kinds run behind Sentinel: the component's Sentinel client, and outputs naming the server.

Every kind runs unchanged against whichever server the Sentinels name now; its output then says which one it was
(`... (primary of mymaster: 127.0.0.1:6380)`), since that may change from one run to the next.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from app.checks.base import CheckContext, CheckKind
from app.checks.redis.sentinel_config import SentinelTarget
from app.clients.redis import RedisSettings
from app.clients.redis_sentinel import SentinelClient, SentinelSettings
from app.model import Observation, Outcome


def sentinel_client(settings: RedisSettings, target: SentinelTarget) -> SentinelClient:
    return SentinelClient(
        settings,
        SentinelSettings(
            master=target.master,
            endpoints=target.endpoints,
            username=target.username,
            password=target.password.get_secret_value() if target.password else None,
            role=target.role,
            db=target.db,
            tls=target.tls,
        ),
    )


def naming_server(kind: CheckKind) -> CheckKind:
    """`kind`, whose output names the server it talked to when the component is behind Sentinel (a failure raised
    by the client names it already)."""

    async def run(ctx: CheckContext[Any, Any, Any, Any]) -> Outcome:
        outcome = await kind.run(ctx)
        client = ctx.client
        if not isinstance(client, SentinelClient):
            return outcome
        return replace(
            outcome,
            output=f"{outcome.output} ({client.role}: {client.address})",
            observed=(*outcome.observed, Observation("redis_address", client.address)),
        )

    return CheckKind(kind.options, run, kind.memo)
