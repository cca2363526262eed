"""The `redis` component's client life cycle: its config turned into the shared RedisClient, and closed.

The client itself (a bounded blocking pool, explicit timeouts, no retries) is app/clients/redis.py.
"""

from __future__ import annotations

from app.checks.redis.config import RedisComponent
from app.checks.redis.sentinel_runs import sentinel_client
from app.clients.redis import RedisClient, RedisSettings


def open_client(component: RedisComponent) -> RedisClient:
    """Built in the running loop; connections are made on first use."""
    settings = RedisSettings(
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
    if component.sentinel is not None:
        return sentinel_client(settings, component.sentinel)
    return RedisClient(settings)


async def close_client(client: RedisClient) -> None:
    await client.close()
