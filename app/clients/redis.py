"""The Redis client a `redis` component's checks share: a bounded, blocking pool with explicit timeouts.

A command interrupted by a timeout or cancellation disconnects its connection (redis-py does this on any
BaseException), so a connection in an unknown state never goes back to the pool.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError

from app import units
from app.clients.errors import PoolExhausted

T = TypeVar("T")

_POOL_EMPTY = "No connection available."
# What redis-py says when an idle pooled connection turns out to have been closed by the server (a restart,
# `CLIENT KILL`, an idle timeout); the server may be perfectly healthy, only that socket is dead.
_STALE = ("Connection closed by server", "Broken pipe", "Connection reset by peer")


@dataclass(frozen=True, slots=True)
class RedisSettings:
    url: str
    password: str | None
    username: str | None
    max_connections: int
    pool_timeout: float
    connect_timeout: float
    socket_timeout: float
    tls_ca_file: str | None = None
    tls_verify: bool = True


class RedisClient:
    """One component's pool, its commands (each mapped to PoolExhausted when the pool is full) and its life cycle."""

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
        if settings.url.startswith("rediss://"):
            if settings.tls_ca_file is not None:
                kwargs["ssl_ca_certs"] = settings.tls_ca_file
            if not settings.tls_verify:
                kwargs["ssl_cert_reqs"] = "none"
                kwargs["ssl_check_hostname"] = False
        self.pool = aioredis.BlockingConnectionPool.from_url(settings.url, **kwargs)
        self.redis = aioredis.Redis(connection_pool=self.pool, retry=no_retry)

    @property
    def in_use(self) -> int:
        return len(self.pool._in_use_connections)

    @property
    def max_connections(self) -> int:
        return self.settings.max_connections

    def _exhausted(self) -> PoolExhausted:
        return PoolExhausted(
            f"pool exhausted: all {self.max_connections} of Vigil's connections busy "
            f"for {units.span(self.settings.pool_timeout)}"
        )

    async def _call(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """Map a full pool to PoolExhausted; replay once, on a fresh connection, a command that failed only
        because its idle pooled connection had been closed by the server. No other retry: the next run is it."""
        for replay in (False, True):
            try:
                return await attempt()
            except AuthenticationError:
                raise
            except RedisConnectionError as exc:
                message = str(exc)
                if message == _POOL_EMPTY:
                    raise self._exhausted() from None
                if replay or not any(marker in message for marker in _STALE):
                    raise
                await self.pool.disconnect(inuse_connections=False)  # the other idle ones are stale too
        raise AssertionError("unreachable")

    async def execute(self, *args: Any) -> Any:
        """One command; a full pool raises PoolExhausted instead of redis-py's generic ConnectionError."""
        return await self._call(lambda: self.redis.execute_command(*args))  # type: ignore[no-untyped-call]

    async def pipeline(self, commands: Sequence[Sequence[Any]], *, raise_on_error: bool = True) -> list[Any]:
        """Several commands in one round trip (no MULTI), on one connection of the pool. With `raise_on_error`
        false, a command the server refused (OOM, READONLY) is its exception in the replies, the others' replies
        still usable; connection errors raise either way."""

        async def attempt() -> list[Any]:
            async with self.redis.pipeline(transaction=False) as pipe:
                for command in commands:
                    pipe.execute_command(*command)
                return list(await pipe.execute(raise_on_error=raise_on_error))

        return await self._call(attempt)

    async def config_get(self, name: str) -> str | None:
        """One CONFIG parameter, or None when the server refuses CONFIG (renamed away, ACL, managed Redis)."""
        try:
            reply = await self.execute("CONFIG", "GET", name)
        except ResponseError:
            return None
        if isinstance(reply, dict):
            value = reply.get(name, reply.get(name.encode()))
        elif isinstance(reply, list | tuple) and len(reply) >= 2:
            value = reply[1]
        else:
            value = None
        if isinstance(value, bytes):
            return value.decode(errors="replace")
        return None if value is None else str(value)

    async def scan(self, cursor: int, match: str, count: int) -> tuple[int, list[bytes]]:
        """One SCAN step: the next cursor (0 when the keyspace was covered) and the keys it returned."""
        next_cursor, keys = await self.execute("SCAN", cursor, "MATCH", match, "COUNT", count)
        return int(next_cursor), list(keys)

    async def close(self) -> None:
        await self.redis.aclose()
        await self.pool.disconnect()
