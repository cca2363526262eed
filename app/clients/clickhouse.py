"""The ClickHouse client a `clickhouse` component's checks share: asynch connections behind a bounded pool.

asynch's own pool waits for a free connection with no timeout and an interrupted query leaves a connection
unusable, so this pool bounds acquisition itself and closes, never reuses, a connection whose query did not finish.
A query that runs out of time is stopped on the server too: ClickHouse 18.16 keeps running a query whose client
merely disconnected, so the client sends a Cancel packet and, when that is not acknowledged, `KILL QUERY`; a caller
can wait for that to be over (`stopped`) before it looks in system.processes whether the query really ended.
asynch's errors are mapped here, once, into this module's own (a ClickHouseError, or the shared PoolExhausted).
The host name is resolved on the client's own SharedResolver and asynch connects to an address (its own lookup
would take a thread of the loop's pool, which a hung resolver starves for every component); TLS still verifies the
configured name.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, replace
from typing import Any

from asynch.connection import Connection
from asynch.errors import NetworkError, OperationalError, ServerException, UnexpectedPacketFromServerError

from app import units
from app.clients.clickhouse_errors import (
    ClickHouseError,
    ConnectionLost,
    NotClickHouse,
    NotResolved,
    QueryTimeout,
    ResultTooLarge,
    ServerError,
    Unreachable,
    lost_reason,
    server_error_text,
    unreachable_reason,
)
from app.clients.clickhouse_results import QueryResult, read_result
from app.clients.errors import PoolExhausted
from app.clients.named_tls import NamedContext
from app.clients.resolver import SharedResolver
from app.clients.tcp import Endpoint, TcpError, resolve

log = logging.getLogger("vigil.clickhouse")


PEER_CONNECTIONS = 2  # per other host of a cluster: a check's query and the look at system.processes before it
PEER_IDLE = 900.0  # seconds a peer's client may go unasked (its host left the cluster) before it is closed
CANCEL_GRACE = 1.0  # seconds the server gets to acknowledge a Cancel packet before KILL QUERY is sent
KILL_SETTINGS = {"readonly": 1, "max_execution_time": 2}  # KILL QUERY is allowed under readonly=1

# What a connection that stopped mid-stream raises in asynch: EOF on a read, a reset or broken pipe, a socket timeout.
_STREAM_ERRORS = (OperationalError, EOFError, OSError)  # TimeoutError and ConnectionError are OSErrors


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
    connect_timeout: float  # TCP connect, handshake, and the ping asynch sends before reusing a pooled connection
    socket_timeout: float  # each read and write of a query

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def quote(value: str) -> str:
    """A ClickHouse string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class ClickHouseClient:
    def __init__(self, settings: ClickHouseSettings) -> None:
        self.settings = settings
        self._idle: list[Connection] = []
        self._slots = asyncio.Semaphore(settings.max_connections)
        self._in_use = 0
        self._background: set[asyncio.Task[Any]] = set()  # closes and cancellations still in flight
        self._stopping: dict[str, asyncio.Task[None]] = {}  # query id -> its cancellation (Cancel, KILL) in flight
        self.resolver = SharedResolver()  # lookups on a pool of this client's own: a hung resolver stalls nothing else
        self._peers: dict[tuple[str, int], ClickHouseClient] = {}
        self._peer_asked: dict[tuple[str, int], float] = {}  # monotonic time each peer was last asked for

    def peer(self, host: str, port: int) -> ClickHouseClient:
        """A client for another server of this one's cluster (a replica, a shard), with the same user, database and
        timeouts and a pool of its own (so a silent host holds none of this one's connections); closed with this one."""
        if (host, port) == (self.settings.host, self.settings.port):
            return self
        now = time.monotonic()
        self._close_unasked_peers(now)
        self._peer_asked[(host, port)] = now
        if (client := self._peers.get((host, port))) is None:
            settings = replace(self.settings, host=host, port=port, max_connections=PEER_CONNECTIONS)
            client = self._peers[(host, port)] = ClickHouseClient(settings)
        return client

    def _close_unasked_peers(self, now: float) -> None:
        """A host that left the cluster (replaced, renamed, moved) is asked for no more: its client and pool are
        closed once PEER_IDLE has passed, longer than any query, so nothing is still running on them."""
        for key, asked in list(self._peer_asked.items()):
            if now - asked > PEER_IDLE:
                del self._peer_asked[key]
                if (gone := self._peers.pop(key, None)) is not None:
                    self._spawn(gone.close())

    @property
    def in_use(self) -> int:
        return self._in_use

    def _new_connection(self, address: str) -> Connection:
        """An asynch connection to `address` (a resolved address of the configured host), not yet connected."""
        s = self.settings
        conn = Connection(
            host=address,
            port=s.port,
            user=s.user,
            password=s.password,
            database=s.database,
            secure=s.secure,
            connect_timeout=s.connect_timeout,
            send_receive_timeout=s.socket_timeout,
            sync_request_timeout=s.connect_timeout,  # the ping before reuse: a pooled connection gone stale fails fast
        )
        if s.secure and address != s.host:  # asynch would check the certificate against the address
            proto: Any = conn._connection
            proto._get_ssl_context = lambda: NamedContext.verifying(s.host)
        return conn

    async def _connect(self) -> Connection:
        """A new connection: the host resolved on this client's pool, then each of its addresses in turn."""
        s = self.settings
        failure: BaseException | None = None
        for address, _ in await resolve(self.resolver, Endpoint(s.host, s.port), s.connect_timeout):
            conn = self._new_connection(address)
            try:
                await conn.connect()
            except (NetworkError, OSError) as exc:  # nothing there: the next address may answer
                failure = failure or exc
                continue
            return conn
        assert failure is not None  # resolve returns at least one address
        raise failure

    async def _acquire(self) -> Connection:
        try:
            async with asyncio.timeout(self.settings.pool_timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise PoolExhausted(
                f"pool exhausted: all {self.settings.max_connections} of Vigil's connections busy "
                f"for {units.span(self.settings.pool_timeout)}"  # the wording Redis's pool uses too
            ) from None
        self._in_use += 1
        try:
            if self._idle:
                return self._idle.pop()
            return await self._connect()
        except BaseException:
            self._in_use -= 1
            self._slots.release()
            raise

    def _release(self, conn: Connection | None, reusable: bool) -> None:
        """Give the slot back; the connection goes back to the pool only if its work finished cleanly."""
        self._in_use -= 1
        self._slots.release()
        if conn is not None:
            if reusable:
                self._idle.append(conn)
            else:
                self._spawn(_close_quietly(conn))

    async def execute(
        self,
        sql: str,
        settings: dict[str, Any],
        *,
        timeout: float | None = None,
        label: str = "query",
        query_id: str | None = None,
        own_timeout: bool = False,
        keep_rows: bool = True,
    ) -> QueryResult:
        """Run one query under `settings`, give up after `timeout` seconds (acquisition included).

        On timeout, or when the calling task is cancelled, the query is cancelled on the server in the background
        (Cancel packet, then KILL QUERY if the server does not acknowledge it) and its connection is closed.
        Raises PoolExhausted or a ClickHouseError; `label` names the query in their text. Without `keep_rows`
        the result is streamed in small blocks and only counted, and past the `max_result_bytes` setting it is
        stopped (ResultTooLarge): memory stays one block whatever the result's size.
        """
        query_id = query_id or f"vigil-{uuid.uuid4().hex}"
        loop = asyncio.get_running_loop()
        started = loop.time()
        conn: Connection | None = None
        task: asyncio.Task[QueryResult] | None = None
        timer = asyncio.timeout(timeout)
        try:
            async with timer:
                conn = await self._acquire()
                task = loop.create_task(
                    read_result(conn, sql, settings, query_id, keep_rows, label), name=f"clickhouse {label}"
                )
                # shield: our own timeout or cancellation must not interrupt the read mid-packet; _abort stops it
                result = await asyncio.shield(task)
        except BaseException as exc:
            if conn is not None:
                if task is not None and not task.done():  # still running on the server: stop it there
                    self._release(None, False)
                    self._spawn(self._abort(conn, task, query_id), stopping=query_id)
                else:  # finished with an error: close it, never reuse it
                    self._release(conn, False)
            if isinstance(exc, TimeoutError) and timer.expired():
                raise QueryTimeout(label, loop.time() - started, timeout or 0.0, own_timeout) from None
            error = self._map(exc, label, sent=task is not None)  # sent: asynch had the query (and the connection)
            if error is None:
                raise
            if isinstance(error, ConnectionLost | ResultTooLarge):  # connection closed; the query may still run
                self._spawn(self.kill(query_id), stopping=query_id)
            if error is exc:
                raise
            raise error from exc
        self._release(conn, True)
        return result

    def _map(self, exc: BaseException, label: str, *, sent: bool) -> ClickHouseError | None:
        """asynch's error as this client's, or None for one it does not know (a bug, or a cancellation)."""
        if isinstance(exc, ClickHouseError):  # already this client's (raised while reading the result)
            return exc
        if isinstance(exc, ServerException):
            return ServerError(exc.code or 0, server_error_text(exc))
        if isinstance(exc, TcpError):
            return NotResolved(str(exc))
        if isinstance(exc, UnexpectedPacketFromServerError):
            if not sent:  # the handshake got an answer in another protocol
                return NotClickHouse(self.settings.address)
            return ConnectionLost(label, self.settings.address, "it sent a packet out of the native protocol")
        if isinstance(exc, NetworkError) or (not sent and isinstance(exc, _STREAM_ERRORS)):
            return Unreachable(self.settings.address, unreachable_reason(exc, self.settings.connect_timeout))
        if isinstance(exc, _STREAM_ERRORS):
            return ConnectionLost(label, self.settings.address, lost_reason(exc, self.settings.socket_timeout))
        return None

    async def _abort(self, conn: Connection, task: asyncio.Task[QueryResult], query_id: str) -> None:
        """Stop a query whose caller gave up: Cancel packet, wait for the server to end the stream, else KILL QUERY."""
        acknowledged = False
        try:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.cancel(), 0.5)
            await asyncio.wait({task}, timeout=min(CANCEL_GRACE, self.settings.socket_timeout))
            if task.done() and not task.cancelled():
                error = task.exception()  # retrieved, so asyncio does not log it
                acknowledged = error is None or isinstance(error, ServerException)
            else:
                task.cancel()
                await asyncio.wait({task}, timeout=0.5)
        finally:
            await _close_quietly(conn)
        if not acknowledged:
            await self.kill(query_id)

    async def kill(self, *query_ids: str) -> None:
        """`KILL QUERY ... ASYNC` over a short-lived connection of its own (the query's own one is busy or gone)."""
        if not query_ids:
            return
        ids = ", ".join(quote(query_id) for query_id in sorted(query_ids))
        conn: Connection | None = None
        try:
            async with asyncio.timeout(self.settings.connect_timeout + self.settings.socket_timeout):
                conn = await self._connect()
                async with conn.cursor() as cursor:
                    cursor.set_settings(dict(KILL_SETTINGS))  # type: ignore[no-untyped-call]
                    await cursor.execute(f"KILL QUERY WHERE query_id IN ({ids}) ASYNC")
                    await cursor.fetchall()
        except (Exception, TimeoutError) as exc:  # noqa: BLE001 - best effort: max_execution_time is the backstop
            log.debug("KILL QUERY %s failed: %s", ids, exc)
        finally:
            if conn is not None:
                await _close_quietly(conn)

    def kill_later(self, *query_ids: str) -> None:
        """KILL QUERY in the background: the caller does not wait for it."""
        if query_ids:
            self._spawn(self.kill(*query_ids))

    async def stopped(self, query_ids: Iterable[str], timeout: float) -> None:
        """Wait, at most `timeout` seconds, until this client's own attempts to stop these queries (Cancel packet,
        KILL QUERY) are over. Whether the server really stopped them is for system.processes to say."""
        pending = {self._stopping[q] for q in query_ids if q in self._stopping}
        if pending and timeout > 0:
            await asyncio.wait(pending, timeout=timeout)

    def _spawn(self, coro: Coroutine[Any, Any, None], stopping: str | None = None) -> None:
        """Run cleanup without making the caller wait (it may be inside a cancellation); keep it alive until done.
        `stopping`: the query id this task stops, for `stopped` to wait on."""
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        if stopping is not None:
            self._stopping[stopping] = task
            task.add_done_callback(lambda done: self._stopped(stopping, done))

    def _stopped(self, query_id: str, task: asyncio.Task[None]) -> None:
        if self._stopping.get(query_id) is task:
            del self._stopping[query_id]

    async def close(self) -> None:
        peers, self._peers, self._peer_asked = list(self._peers.values()), {}, {}
        for peer in peers:
            await peer.close()
        if self._background:
            await asyncio.wait(set(self._background), timeout=1.0)
            for task in list(self._background):
                task.cancel()
            if self._background:
                await asyncio.wait(set(self._background), timeout=0.5)
        idle, self._idle = self._idle, []
        for conn in idle:
            await _close_quietly(conn)
        await self.resolver.close()


async def _close_quietly(conn: Connection) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(conn.close(), 1.0)
