"""The client a `redis` component's checks share, opened from its config and closed on shutdown.

The client itself (pool, timeouts, no retries) is app/clients/redis.py; this is only the component's end of it.
"""

from __future__ import annotations

from app.checks.redis.config import RedisComponent
from app.clients.redis import RedisClient


def open_client(component: RedisComponent) -> RedisClient:
    return RedisClient(component.client_settings())


async def close_client(client: RedisClient) -> None:
    await client.close()
