"""How long Vigil's own event loop was kept from running, so a run it was too late to judge is not blamed on a target.

A ticker sleeps TICK at a time and adds up how late each wake-up came (beyond TOLERANCE): CPU throttling in a pod
with a CPU limit, a starved machine, or Vigil's own work holding the loop all show up here. A check run reads the
total at its start and end: the difference is the time its deadline lost to Vigil, not to the target.
"""

from __future__ import annotations

import asyncio

TICK = 0.05  # seconds between wake-ups
TOLERANCE = 0.02  # lateness up to this per wake-up is ordinary scheduling noise (a busy host), not a stall


class StallClock:
    def __init__(self) -> None:
        self._stalled = 0.0
        self._due: float | None = None  # loop time of the next expected wake-up, while ticking

    def stalled(self) -> float:
        """Seconds of stall so far, including the wake-up that is overdue right now (the loop may only just have
        come back, and a run's timeout can fire in the same turn as the ticker's late wake-up)."""
        overdue = 0.0
        if self._due is not None:
            late = asyncio.get_running_loop().time() - self._due
            overdue = max(0.0, late - TOLERANCE)
        return self._stalled + overdue

    async def tick(self) -> None:
        """Runs until cancelled (the scheduler owns the task)."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                self._due = loop.time() + TICK
                await asyncio.sleep(TICK)
                self._stalled += max(0.0, loop.time() - self._due - TOLERANCE)
        finally:
            self._due = None
