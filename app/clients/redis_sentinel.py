"""The client of a `redis` component behind Sentinel: redis-py's asyncio Sentinel support, under Vigil's bounds.

Its data pool is a bounded blocking pool (redis-py's SentinelConnectionPool made blocking) whose connections ask
the Sentinels where the primary (or a replica) is each time they connect: all Sentinels at once, the first that
names one it sees up wins, and asking and connecting together stay within `connect_timeout`. A primary demoted by a
failover refuses writes (redis-py then drops the connection) and loses its clients (Sentinel kills them when it
reconfigures it), so the next connection asks again. Each Sentinel has a pool of SENTINEL_CONNECTIONS, shared by
discovery and the `sentinel` check: at most max_connections + SENTINEL_CONNECTIONS x Sentinels connections.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.connection import Connection, SSLConnection
from redis.asyncio.sentinel import (
    Sentinel,
    SentinelConnectionPool,
    SentinelManagedConnection,
    SentinelManagedSSLConnection,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError as LibraryError

from app import units
from app.clients import tcp
from app.clients.redis import NO_RETRY, RedisClient, RedisSettings, _resolving, connection_options, tls_options
from app.clients.redis_sentinel_errors import SERVICE, Demoted, NoPrimary, sentinel_error
from app.clients.resolver import SharedResolver

T = TypeVar("T")

SENTINEL_CONNECTIONS = 2  # per Sentinel: discovery and the `sentinel` check may ask at the same time
_DEMOTED = "The previous master is now a slave"  # what redis-py says when a primary answers READONLY


@dataclass(frozen=True, slots=True)
class SentinelSettings:
    master: str
    endpoints: tuple[tuple[str, int], ...]
    username: str | None = None
    password: str | None = None
    role: str = "primary"  # or "replica"
    db: int = 0
    tls: bool = False  # Sentinels and data nodes alike


@dataclass(frozen=True, slots=True)
class Answer:
    """One Sentinel's reply, or the sentence saying why it gave none (`error`)."""

    address: str
    reply: Any = None
    error: str | None = None


def where(address: tuple[Any, Any]) -> str:
    return tcp.Endpoint(str(address[0]), int(address[1])).where


def seen_up(state: dict[str, Any]) -> bool:
    """A node Sentinel reports with neither s_down nor o_down (nor disconnected)."""
    return not (state.get("is_sdown") or state.get("is_odown") or state.get("is_disconnected"))


class Sentinels(Sentinel):
    """redis-py's Sentinel manager with one bounded pool per Sentinel, asking them all at once within a deadline."""

    def __init__(self, target: SentinelSettings, settings: RedisSettings, resolver: SharedResolver) -> None:
        super().__init__([])
        self.master = target.master
        self.settings = settings
        self.addresses = [where(endpoint) for endpoint in target.endpoints]
        connection_class = _resolving(SSLConnection if target.tls else Connection, resolver, SERVICE)
        tls = tls_options(settings) if target.tls else {}
        self.pools = [
            aioredis.BlockingConnectionPool(
                host=host,
                port=port,
                max_connections=SENTINEL_CONNECTIONS,
                timeout=settings.pool_timeout,
                socket_timeout=settings.socket_timeout,
                socket_connect_timeout=settings.connect_timeout,
                retry=NO_RETRY,
                health_check_interval=0,
                username=target.username,
                password=target.password,
                connection_class=connection_class,
                **tls,
            )
            for host, port in target.endpoints
        ]
        self.sentinels = [aioredis.Redis(connection_pool=pool, retry=NO_RETRY) for pool in self.pools]

    async def ask(self, index: int, label: str, call: Callable[[aioredis.Redis], Awaitable[Any]]) -> Answer:
        """`call` on one Sentinel; its error (the library's) as a sentence naming that Sentinel."""
        address = self.addresses[index]
        try:
            return Answer(address, await call(self.sentinels[index]))
        except LibraryError as exc:
            error = sentinel_error(exc, label, address, self.settings.socket_timeout, self.settings.pool_timeout)
            return Answer(address, error=error)

    async def ask_all(
        self, label: str, call: Callable[[aioredis.Redis], Awaitable[Any]], deadline: float, late: str
    ) -> list[Answer]:
        """Every Sentinel at once; one that has not answered by `deadline` (loop time) is an answer saying so
        (`late`: what the deadline was, for that sentence)."""
        tasks = [asyncio.ensure_future(self.ask(i, label, call)) for i in range(len(self.sentinels))]
        try:
            await asyncio.wait(tasks, timeout=max(0.0, deadline - asyncio.get_running_loop().time()))
        finally:
            for task in tasks:  # redis-py drops a connection whose command was cancelled: none is reused mid-reply
                task.cancel()
        return [
            task.result() if task.done() and not task.cancelled() else self._late(index, label, late)
            for index, task in enumerate(tasks)
        ]

    def _late(self, index: int, label: str, late: str) -> Answer:
        address = self.addresses[index]
        return Answer(address, error=f"Sentinel at {address} did not answer {label} {late}")

    async def first(
        self,
        label: str,
        call: Callable[[aioredis.Redis], Awaitable[Any]],
        pick: Callable[[Answer], tuple[T | None, str | None]],
        deadline: float,
    ) -> tuple[T | None, list[str]]:
        """Ask every Sentinel at once; the first answer `pick` accepts (its value), else why none did (one
        sentence per Sentinel, in the order given). `pick`: an answer -> (value, None) or (None, why not)."""
        tasks = {asyncio.ensure_future(self.ask(i, label, call)): i for i in range(len(self.sentinels))}
        causes: dict[int, str] = {}
        pending = set(tasks)
        loop = asyncio.get_running_loop()
        try:
            while pending:
                done, pending = await asyncio.wait(
                    pending, timeout=max(0.0, deadline - loop.time()), return_when=asyncio.FIRST_COMPLETED
                )
                if not done:
                    break
                for task in done:
                    answer = task.result()
                    value, why = pick(answer) if answer.error is None else (None, answer.error)
                    if value is not None:
                        return value, []
                    causes[tasks[task]] = why or f"Sentinel at {answer.address} gave no usable answer"
        finally:
            for task in pending:
                task.cancel()
        late = f"within the {units.latency(self.settings.connect_timeout)} connect timeout"
        for task in pending:
            causes[tasks[task]] = str(self._late(tasks[task], label, late).error)
        return None, [causes[i] for i in sorted(causes)]

    async def primary(self, deadline: float) -> tuple[str, int]:
        def pick(answer: Answer) -> tuple[tuple[str, int] | None, str | None]:
            state = answer.reply
            if not isinstance(state, dict) or "ip" not in state:
                return None, f"Sentinel at {answer.address} gave no state for {self.master}"
            address = (str(state["ip"]), int(state["port"]))
            if state.get("is_master") and seen_up(state):
                return address, None
            return None, f"Sentinel at {answer.address} sees {where(address)} down ({state.get('flags')})"

        return await self.named("primary", "SENTINEL MASTER", ("SENTINEL MASTER", self.master), pick, deadline)

    async def replicas(self, deadline: float) -> list[tuple[str, int]]:
        def pick(answer: Answer) -> tuple[list[tuple[str, int]] | None, str | None]:
            states = answer.reply if isinstance(answer.reply, list) else []
            alive = [(str(s["ip"]), int(s["port"])) for s in states if isinstance(s, dict) and seen_up(s)]
            return (alive, None) if alive else (None, f"Sentinel at {answer.address} sees no replica up")

        return await self.named("replica", "SENTINEL REPLICAS", ("SENTINEL SLAVES", self.master), pick, deadline)

    async def named(
        self,
        role: str,
        label: str,
        command: tuple[str, ...],
        pick: Callable[[Answer], tuple[T | None, str | None]],
        deadline: float,
    ) -> T:
        """What the first Sentinel whose answer to `command` `pick` accepts names; NoPrimary (every Sentinel's
        reason) when none does. `role`: what was looked for (primary, replica), for that sentence."""

        async def call(sentinel: aioredis.Redis) -> Any:
            return await sentinel.execute_command(*command)  # type: ignore[no-untyped-call]

        found, causes = await self.first(label, call, pick, deadline)
        if found is None:
            raise NoPrimary(self.master, role, causes)
        return found

    async def discover_master(self, service_name: str) -> tuple[str, int]:
        """redis-py's entry point, bounded like the rest: within the connect timeout, all Sentinels at once."""
        return await self.primary(asyncio.get_running_loop().time() + self.settings.connect_timeout)

    async def discover_slaves(self, service_name: str) -> list[tuple[str, int]]:
        try:
            return await self.replicas(asyncio.get_running_loop().time() + self.settings.connect_timeout)
        except NoPrimary:
            return []

    async def aclose(self) -> None:
        await asyncio.gather(*(sentinel.aclose() for sentinel in self.sentinels), return_exceptions=True)
        await asyncio.gather(*(pool.disconnect() for pool in self.pools), return_exceptions=True)


class SentinelPool(SentinelConnectionPool, aioredis.BlockingConnectionPool):
    """redis-py's Sentinel pool, blocking (bounded, waits `pool_timeout`), remembering where it connected last."""

    sentinel_manager: Sentinels

    def __init__(self, sentinels: Sentinels, **kwargs: Any) -> None:
        super().__init__(sentinels.master, sentinels, **kwargs)  # type: ignore[no-untyped-call]
        self.last_address: str | None = None
        self._turn = random.randrange(1 << 16)  # where the round over replicas starts

    async def candidates(self, deadline: float) -> list[tuple[str, int]]:
        """Where a new connection should go, in order: the primary; or each replica up, taking turns."""
        if self.is_master:
            address = await self.sentinel_manager.primary(deadline)
            if self.master_address != address:
                self.master_address = address
                await self.disconnect(inuse_connections=False)  # idle ones still point at the old primary
            return [address]
        replicas = await self.sentinel_manager.replicas(deadline)
        self._turn += 1
        start = self._turn % len(replicas)
        return replicas[start:] + replicas[:start]


def _managed(resolver: SharedResolver, connect_timeout: float, tls: bool) -> type[Connection]:
    """redis-py's Sentinel-managed connection (over TLS when `tls`), resolving on `resolver`, asking and connecting
    within one deadline."""
    base = _resolving(SentinelManagedSSLConnection if tls else SentinelManagedConnection, resolver)

    class ManagedConnection(base):  # type: ignore[valid-type, misc]
        connection_pool: SentinelPool

        async def _connect_retry(self) -> None:
            if self._reader:
                return
            loop = asyncio.get_running_loop()
            deadline = loop.time() + connect_timeout
            candidates = await self.connection_pool.candidates(deadline)
            for number, address in enumerate(candidates, 1):
                self.connection_pool.last_address = where(address)
                self.socket_connect_timeout = max(0.001, deadline - loop.time())
                try:
                    await self.connect_to(address)
                    return
                except RedisConnectionError:
                    if number == len(candidates) or loop.time() >= deadline:
                        raise

    return ManagedConnection


class SentinelClient(RedisClient):
    """A RedisClient whose server is whichever the Sentinels name now; `sentinels` answers the `sentinel` check."""

    pool: SentinelPool

    def __init__(self, settings: RedisSettings, target: SentinelSettings) -> None:
        self.settings = settings
        self.target = target
        self.resolver = SharedResolver()
        self.sentinels = Sentinels(target, settings, self.resolver)
        self.pool = SentinelPool(
            self.sentinels,
            is_master=target.role == "primary",
            connection_class=_managed(self.resolver, settings.connect_timeout, target.tls),
            db=target.db,
            **connection_options(settings),
            **(tls_options(settings) if target.tls else {}),
        )
        self.redis = aioredis.Redis(connection_pool=self.pool, retry=NO_RETRY)

    @property
    def address(self) -> str:
        return self.pool.last_address or f"the {self.target.role} of {self.target.master}"

    @property
    def role(self) -> str:
        """What the checks talk to, for their outputs: `primary of mymaster`."""
        return f"{self.target.role} of {self.target.master}"

    def _map(self, exc: LibraryError, label: str) -> Exception:
        if isinstance(exc, RedisConnectionError) and str(exc) == _DEMOTED:
            return Demoted(self.address)
        return super()._map(exc, label)

    async def ask_sentinels(
        self, label: str, call: Callable[[aioredis.Redis], Awaitable[Any]], deadline: float, late: str
    ) -> list[Answer]:
        return await self.sentinels.ask_all(label, call, deadline, late)

    async def close(self) -> None:
        await self.redis.aclose()
        await self.pool.disconnect()
        await self.sentinels.aclose()
        await self.resolver.close()


def sentinel_commands(master: str) -> Sequence[tuple[str, ...]]:
    """What the `sentinel` check asks each Sentinel, in one round trip: the master's state, its replicas as that
    Sentinel sees them, and whether a failover could be authorised now."""
    return (("SENTINEL MASTER", master), ("SENTINEL SLAVES", master), ("SENTINEL", "CKQUORUM", master))
