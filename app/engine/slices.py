"""Long reads of the store on the event loop, cut into slices so check runs and probes get turns in between.

A read over every check (a /metrics snapshot, /health members, status page rows) costs microseconds per check, which
at thousands of checks is tens of milliseconds in one piece: every check due meanwhile starts that much late
(vigil_scheduler_lag_seconds) and every reply waits. Iterating through `in_slices` yields to the loop each time a
slice's budget is spent, so no single piece holds the loop longer than about SLICE.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from typing import TypeVar

T = TypeVar("T")

SLICE = 0.005  # seconds of work on the loop between two yields


async def in_slices(items: Iterable[T], budget: float | None = None) -> AsyncIterator[T]:
    """Every item of `items`, yielding to the event loop whenever `budget` (default SLICE) seconds of the caller's
    work have passed since the last yield. Give it a copy (`list(...)`) of anything that may change meanwhile."""
    limit = SLICE if budget is None else budget
    began = time.monotonic()
    for item in items:
        yield item
        if time.monotonic() - began > limit:
            await asyncio.sleep(0)
            began = time.monotonic()
