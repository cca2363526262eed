"""The Redis client a `redis` component's checks share: a bounded, blocking pool with explicit timeouts.

A command interrupted by a timeout or cancellation disconnects its connection (redis-py does this on any
BaseException), so a connection in an unknown state never goes back to the pool. Connections resolve the host name
on the client's own SharedResolver and connect to an address (redis-py would use the loop's getaddrinfo, which a
hung resolver starves for every component); a TLS connection still verifies the configured name. redis-py's errors
are mapped here, once, into app/clients/redis_errors.py's (or the shared PoolExhausted).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection, Connection, SSLConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError as LibraryError

from app import units
from app.clients import tcp
from app.clients.errors import PoolExhausted
from app.clients.redis_errors import Refused, mapped, refused
from app.clients.resolver import SharedResolver

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


NO_RETRY = Retry(NoBackoff(), 0)


def connection_options(settings: RedisSettings) -> dict[str, Any]:
    """redis-py's pool and connection options for these settings: every timeout explicit, no retries."""
    kwargs: dict[str, Any] = {
        "max_connections": settings.max_connections,
        "timeout": settings.pool_timeout,
        "socket_timeout": settings.socket_timeout,
        "socket_connect_timeout": settings.connect_timeout,
        "retry": NO_RETRY,
        "health_check_interval": 0,
    }
    if settings.password is not None:
        kwargs["password"] = settings.password
    if settings.username is not None:
        kwargs["username"] = settings.username
    if settings.url.startswith("rediss://"):
        kwargs.update(tls_options(settings))
    return kwargs


def tls_options(settings: RedisSettings) -> dict[str, Any]:
    """redis-py's TLS connection options for these settings: the CA bundle, and whether to verify."""
    kwargs: dict[str, Any] = {}
    if settings.tls_ca_file is not None:
        kwargs["ssl_ca_certs"] = settings.tls_ca_file
    if not settings.tls_verify:
        kwargs["ssl_cert_reqs"] = "none"
        kwargs["ssl_check_hostname"] = False
    return kwargs


class RedisClient:
    """One component's pool, its commands (each mapped to PoolExhausted when the pool is full) and its life cycle."""

    def __init__(self, settings: RedisSettings) -> None:
        self.settings = settings
        self.resolver = SharedResolver()  # lookups on a pool of this client's own: a hung resolver stalls nothing else
        self.pool = aioredis.BlockingConnectionPool.from_url(settings.url, **connection_options(settings))
        if issubclass(self.pool.connection_class, Connection):  # TCP, plain or TLS (a unix socket needs no lookup)
            self.pool.connection_class = _resolving(self.pool.connection_class, self.resolver)
        self.redis = aioredis.Redis(connection_pool=self.pool, retry=NO_RETRY)
        url = urlsplit(settings.url)
        self._address = (
            url.path if url.scheme == "unix" else tcp.Endpoint(url.hostname or "localhost", url.port or 6379).where
        )

    @property
    def address(self) -> str:
        """The server this client talks to, as its errors and outputs name it."""
        return self._address

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

    async def _call(self, label: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """Map a full pool to PoolExhausted and redis-py's errors to this client's; replay once, on a fresh
        connection, a command that failed only because its idle pooled connection had been closed by the server.
        No other retry: the next run is it."""
        for replay in (False, True):
            try:
                return await attempt()
            except AuthenticationError as exc:
                raise self._map(exc, label) from exc
            except RedisConnectionError as exc:
                message = str(exc)
                if message == _POOL_EMPTY:
                    raise self._exhausted() from None
                if replay or isinstance(exc.__cause__, tcp.TcpError) or not any(marker in message for marker in _STALE):
                    raise self._map(exc, label) from exc
                await self.pool.disconnect(inuse_connections=False)  # the other idle ones are stale too
            except LibraryError as exc:
                raise self._map(exc, label) from exc
        raise AssertionError("unreachable")

    def _map(self, exc: LibraryError, label: str) -> Exception:
        error = mapped(exc, label, self.address, self.settings.socket_timeout)
        return exc if error is None else error  # one it does not know: a bug, raised as it is

    async def execute(self, *args: Any) -> Any:
        """One command; raises PoolExhausted or a RedisError (app/clients/redis_errors.py)."""
        return await self._call(str(args[0]), lambda: self.redis.execute_command(*args))  # type: ignore[no-untyped-call]

    async def pipeline(self, commands: Sequence[Sequence[Any]], *, raise_on_error: bool = True) -> list[Any]:
        """Several commands in one round trip (no MULTI), on one connection of the pool. With `raise_on_error`
        false, a command the server refused (OOM, READONLY) is its exception in the replies, the others' replies
        still usable (as this client's Refused); connection errors raise either way."""

        async def attempt() -> list[Any]:
            async with self.redis.pipeline(transaction=False) as pipe:
                for command in commands:
                    pipe.execute_command(*command)
                return list(await pipe.execute(raise_on_error=raise_on_error))

        replies = await self._call(_pipeline_label(commands), attempt)
        return [refused(reply) if isinstance(reply, LibraryError) else reply for reply in replies]

    async def config_get(self, name: str) -> str | None:
        """One CONFIG parameter, or None when the server refuses CONFIG (renamed away, ACL, managed Redis)."""
        try:
            reply = await self.execute("CONFIG", "GET", name)
        except Refused:
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
        await self.resolver.close()


def _pipeline_label(commands: Sequence[Sequence[Any]]) -> str:
    names = sorted({str(command[0]) for command in commands if command})
    return " + ".join(names) if len(names) <= 3 else f"a pipeline of {len(commands)} commands"


def _resolving(
    base: type[AbstractConnection], resolver: SharedResolver, service: str = "Redis"
) -> type[AbstractConnection]:
    """redis-py's connection class (plain or TLS), resolving on `resolver` and connecting to an address.

    Errors are this module's TcpErrors (finished sentences); redis-py wraps them in a ConnectionError whose cause
    they stay, and the client maps them back."""

    class ResolvingConnection(base):  # type: ignore[valid-type, misc]
        async def _connect(self) -> None:
            endpoint = tcp.Endpoint(self.host, int(self.port))
            limit = float(self.socket_connect_timeout or 1.0)
            deadline = asyncio.get_running_loop().time() + limit
            reader, writer, _ = await tcp.connect(resolver, endpoint, limit, service=service)
            if isinstance(self, SSLConnection):
                try:  # verifies the configured name (when the component verifies), not the address connected to
                    context = self.ssl_context.get()
                    await tcp.start_tls(writer, endpoint, context, self.host, tcp.bound(limit, deadline))
                except BaseException:
                    writer.transport.abort()
                    raise
            sock = writer.transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._reader = reader
            self._writer = writer

    ResolvingConnection.__name__ = ResolvingConnection.__qualname__ = f"Resolving{base.__name__}"
    return ResolvingConnection
