"""One bounded call of an `http` check: the target URL, the headers it sends, a request under its own limit.

Each wait is bounded by its step's limit and by the run's deadline, whichever is nearer; redirects are never
followed here, and a step that runs out of time raises NoAnswer with the bound it had.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar
from urllib.parse import urljoin, urlsplit

import aiohttp

from app.checks.base import CheckContext
from app.checks.http.config import HttpComponent
from app.checks.http.errors import NoAnswer
from app.clients.errors import lookup_silent
from app.clients.http import HttpClient
from app.clients.tcp import NameNotResolved
from app.config.fields import CheckConfig

MAX_BODY = 1_048_576  # bytes read from a response body at most
DRAIN_LIMIT = 65_536  # bytes of a body nobody asked for read anyway, so its connection goes back to the pool
DRAIN_WAIT = 0.05  # seconds at most spent on such a body

OptionsT = TypeVar("OptionsT", bound=CheckConfig)
MemoT = TypeVar("MemoT")
# An `http` check's context: each kind names its options and memo (`HttpContext[HttpReachable, NoMemo]`);
# helpers shared by several kinds are generic over both.
HttpContext: TypeAlias = CheckContext[HttpComponent, OptionsT, HttpClient, MemoT]


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: dict[str, str]  # lower-case names; a repeated header's values joined with ", "
    body: bytes
    latency: float  # seconds, until the headers (and the body, when read)
    fields: tuple[tuple[str, str], ...] = ()  # every header line as sent, in order

    def values(self, name: str) -> list[str]:
        """Each value of a header, one per header line (what RFCs that take only the first need)."""
        return [value for key, value in self.fields if key.lower() == name.lower()]


def target(component: HttpComponent, path: str) -> str:
    return urljoin(component.url, path) if path else component.url


def flatten(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


def api_headers(component: HttpComponent, drop: Iterable[str] = ()) -> dict[str, str]:
    """The component's headers without credentials the check brings itself (Authorization, and `drop`)."""
    dropped = {"authorization", *(name.lower() for name in drop)}
    return {name: value for name, value in component.headers.items() if name.lower() not in dropped}


async def read_body(content: aiohttp.StreamReader, limit: int = MAX_BODY) -> bytes:
    """The body up to its end or `limit` bytes, whichever comes first (one `read(n)` may return a part only)."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await content.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


async def drain(ctx: HttpContext[OptionsT, MemoT], response: aiohttp.ClientResponse) -> None:
    """Read a small body the check does not need, so the connection is reused: aiohttp closes a connection whose
    body was not read to its end, and a new one costs a connect on both sides (unread, one run in five reconnected
    to a loopback target). Only what arrives within DRAIN_WAIT (and half the time left) is read; a larger or slower
    body leaves with its connection, as it did before. Nothing here changes the run's verdict."""
    content = response.content
    if content.is_eof() or (response.content_length or 0) > DRAIN_LIMIT:
        return
    with contextlib.suppress(TimeoutError, aiohttp.ClientError):
        async with asyncio.timeout(min(DRAIN_WAIT, ctx.remaining() / 2)):
            await read_body(content, DRAIN_LIMIT)


@contextlib.contextmanager
def naming_stalled_lookups(ctx: HttpContext[OptionsT, MemoT], url: str, connect: float) -> Iterator[None]:
    """A connect timeout that was still waiting on the name lookup says so (a hung resolver, worded as the tcp type
    words it); any other connect timeout goes on as it was."""
    try:
        yield
    except aiohttp.ConnectionTimeoutError:
        host = urlsplit(url).hostname
        if host is not None and ctx.client.resolver.looking_up(host):
            raise NameNotResolved(lookup_silent(host, connect)) from None
        raise


def bounded(ctx: HttpContext[OptionsT, MemoT], limit: float) -> float:
    """A step's time: its own limit, or what is left of the run when that is less."""
    return max(0.001, min(limit, ctx.remaining()))


async def request(
    ctx: HttpContext[OptionsT, MemoT],
    method: str,
    url: str,
    *,
    limit: float,
    headers: Mapping[str, str] | None = None,
    read: int = 0,
    data: Any = None,
    json: Any = None,
) -> Reply:
    """One request, redirects not followed, the body read up to `read` bytes; NoAnswer when out of time."""
    seconds = bounded(ctx, limit)
    connect = min(ctx.component.connect_timeout, seconds)
    timeout = ctx.client.timeout(connect=connect, total=seconds)
    started = time.perf_counter()
    try:
        with naming_stalled_lookups(ctx, url, connect):
            async with ctx.client.session.request(
                method, url, headers=headers, data=data, json=json, timeout=timeout, allow_redirects=False
            ) as response:
                body = await read_body(response.content, read) if read else b""
                latency = time.perf_counter() - started
                fields = tuple(response.headers.items())
                await drain(ctx, response)
                return Reply(response.status, flatten(fields), body, latency, fields)
    except TimeoutError:
        raise NoAnswer(seconds) from None
