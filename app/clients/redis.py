"""The Redis client a `redis` component's checks share: a bounded, blocking pool with explicit timeouts.

A command interrupted by a timeout or cancellation disconnects its connection (redis-py does this on any
BaseException), so a connection in an unknown state never goes back to the pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError


class PoolExhausted(Exception):
    """Every connection of Vigil's own pool was busy for the whole acquire timeout."""


@dataclass(frozen=True, slots=True)
class RedisSettings:
    url: str
    password: str | None
    username: str | None
    max_connections: int
    pool_timeout: float
    connect_timeout: float
    socket_timeout: float


class RedisClient:
    def __init__(self, settings: RedisSettings) -> None:
        self.settings = settings
        no_retry = Retry(NoBackoff(), 0)
        kwargs: dict[str, Any] = {
            "max_connections": settings.max_connections,
            "timeout": settings.pool_timeout,
            "socket_timeout": settings.socket_timeout,
            "socket_connect_timeout": settings.connect_timeout,
            "retry": no_retry,
            "health_check_interval": 0,
        }
        if settings.password is not None:
            kwargs["password"] = settings.password
        if settings.username is not None:
            kwargs["username"] = settings.username
        self.pool = aioredis.BlockingConnectionPool.from_url(settings.url, **kwargs)
        self.redis = aioredis.Redis(connection_pool=self.pool, retry=no_retry)

    @property
    def in_use(self) -> int:
        return len(self.pool._in_use_connections)

    @property
    def max_connections(self) -> int:
        return self.settings.max_connections

    async def execute(self, *args: Any) -> Any:
        """One command; a full pool raises PoolExhausted instead of redis-py's generic ConnectionError."""
        try:
            return await self.redis.execute_command(*args)
        except RedisConnectionError as exc:
            if str(exc) == "No connection available.":
                raise PoolExhausted(
                    f"pool exhausted: all {self.max_connections} connections busy for {self.settings.pool_timeout:g}s"
                ) from None
            raise

    @asynccontextmanager
    async def pipeline(self) -> AsyncIterator[Any]:
        async with self.redis.pipeline(transaction=False) as pipe:
            yield pipe

    async def close(self) -> None:
        await self.redis.aclose()
        await self.pool.disconnect()
