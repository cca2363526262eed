"""Closing clients: all of them at shutdown within one budget, or one whose component a reload changed or removed
once the runs still using it are over. A client that fails or hangs while closing is logged, never raised."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from app import units
from app.masking import Scrubber

log = logging.getLogger("vigil.scheduler")

CLOSE_TIMEOUT = 2.0  # seconds a client retired by a reload may take to close
Closer = Callable[[Any], Awaitable[None]]


async def close_clients(
    clients: dict[str, Any], closers: dict[str, Closer], timeout: float, scrubber: Scrubber
) -> None:
    """Close every client concurrently within `timeout`."""
    names = list(clients)
    closing = [asyncio.ensure_future(closers[name](client)) for name, client in clients.items()]
    if not closing:
        return
    done, pending = await asyncio.wait(closing, timeout=timeout)
    for name, closer in zip(names, closing, strict=True):
        if closer in pending:
            closer.cancel()
            log.warning("closing the client of %s took longer than %s; abandoned", name, units.span(timeout))
        elif (error := closer.exception()) is not None:
            log.warning("closing the client of %s failed: %s", name, scrubber.text(repr(error)))


async def close_after(
    name: str, client: Any, closer: Closer, runs: list[asyncio.Future[Any]], timeout: float, scrubber: Scrubber
) -> None:
    """Close a client no check uses any more once `runs` (in flight, each under its check's timeout, the longest
    `timeout`) are over."""
    try:
        if runs:
            await asyncio.wait(runs, timeout=timeout + CLOSE_TIMEOUT)
    finally:
        await close_clients({name: client}, {name: closer}, CLOSE_TIMEOUT, scrubber)
