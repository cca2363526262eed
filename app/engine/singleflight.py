"""SingleFlight: callers arriving while a call is in flight share its result instead of starting another.

Used for check runs (one execution per check, whoever asks) and for /metrics renders.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    def __init__(self) -> None:
        self._inflight: asyncio.Future[T] | None = None

    @property
    def inflight(self) -> asyncio.Future[T] | None:
        return self._inflight

    async def do(self, call: Callable[[], Awaitable[T]]) -> T:
        """Start `call()` unless one is in flight, then wait for the shared result.

        The wait is shielded: a caller that goes away (an HTTP client disconnecting) does not cancel the call
        for the others. Cancel the call itself with `cancel()`.
        """
        if self._inflight is None:
            future = asyncio.ensure_future(call())
            self._inflight = future
            future.add_done_callback(self._clear)
        return await asyncio.shield(self._inflight)

    def cancel(self) -> asyncio.Future[T] | None:
        """Cancel the call in flight, if any; returns it so the caller can wait for it to finish."""
        future = self._inflight
        if future is not None:
            future.cancel()
        return future

    def _clear(self, future: asyncio.Future[T]) -> None:
        if self._inflight is future:
            self._inflight = None
