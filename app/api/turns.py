"""Turns: heavy reads of the store take turns with each other and with the checks' I/O."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class Turns:
    """Heavy reads (a /health document over many checks) take turns, one per event-loop iteration.

    Without this, a burst of N requests renders N documents back to back in one iteration, and a check whose
    reply arrived meanwhile waits behind all of them (long enough, under load, to miss its socket timeout or to
    hold its pool connection too long). The lock is FIFO; the yield inside it lets pending I/O run first.
    """

    def __init__(self) -> None:
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        async with self._lock:
            await asyncio.sleep(0)
            yield
