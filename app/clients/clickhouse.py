"""The ClickHouse client a `clickhouse` component's checks share: asynch connections behind a bounded pool.

asynch's own pool waits for a free connection with no timeout and an interrupted query leaves a connection
unusable, so this pool bounds acquisition itself and closes, never reuses, a connection whose query did not finish.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from asynch.connection import Connection


class PoolExhausted(Exception):
    """Every connection of Vigil's own ClickHouse pool was busy for the whole acquire timeout."""


@dataclass(frozen=True, slots=True)
class ClickHouseSettings:
    host: str
    port: int
    user: str
    password: str
    database: str
    secure: bool
    max_connections: int
    pool_timeout: float
    connect_timeout: float
    socket_timeout: float


class ClickHouseClient:
    def __init__(self, settings: ClickHouseSettings) -> None:
        self.settings = settings
        self._idle: list[Connection] = []
        self._slots = asyncio.Semaphore(settings.max_connections)
        self._in_use = 0
        self._closing: set[asyncio.Task[None]] = set()  # keeps fire-and-forget closes alive until done

    @property
    def in_use(self) -> int:
        return self._in_use

    async def _open(self) -> Connection:
        s = self.settings
        conn = Connection(
            host=s.host,
            port=s.port,
            user=s.user,
            password=s.password,
            database=s.database,
            secure=s.secure,
            connect_timeout=s.connect_timeout,
            send_receive_timeout=s.socket_timeout,
            sync_request_timeout=s.socket_timeout,
        )
        await conn.connect()
        return conn

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """A connection for one unit of work; returned to the pool only if the work finished cleanly."""
        try:
            async with asyncio.timeout(self.settings.pool_timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise PoolExhausted(
                f"pool exhausted: all {self.settings.max_connections} connections busy "
                f"for {self.settings.pool_timeout:g}s"
            ) from None
        self._in_use += 1
        conn: Connection | None = None
        clean = False
        try:
            conn = self._idle.pop() if self._idle else await self._open()
            yield conn
            clean = True
        finally:
            self._in_use -= 1
            self._slots.release()
            if conn is not None:
                if clean:
                    self._idle.append(conn)
                else:
                    self._discard(conn)

    async def query(self, sql: str, settings: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        async with self.connection() as conn, conn.cursor() as cursor:
            if settings:
                cursor.set_settings(settings)
            await cursor.execute(sql)
            return list(await cursor.fetchall())

    def _discard(self, conn: Connection) -> None:
        """Close a connection left in an unknown state without waiting on it (we may be inside a cancellation)."""
        task = asyncio.get_running_loop().create_task(_close_quietly(conn))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        if self._closing:
            await asyncio.wait(self._closing, timeout=1.0)
        idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 1.0)


async def _close_quietly(conn: Connection) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(conn.close(), 1.0)
