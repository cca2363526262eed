"""Bounded SCAN work: a per-run budget, and the cursors that carry a search or a sample on across runs.

Never KEYS: every walk of the keyspace is SCAN with COUNT, capped in calls and in wall time, resumed next run.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field

from app.checks.redis.config import ScanFields
from app.clients.redis import RedisClient


def is_pattern(key: str) -> bool:
    """A priority key with glob characters is a pattern: some key must match it."""
    return any(c in key for c in "*?[")


@dataclass(slots=True)
class ScanBudget:
    """Bounds one run's SCAN work: at most max_calls calls of COUNT scan_count, and a wall-time limit."""

    count: int
    max_calls: int
    ends_at: float  # loop time
    calls: int = 0

    @classmethod
    def for_run(cls, options: ScanFields, remaining: float) -> ScanBudget:
        """`remaining`: seconds left before the run's deadline; SCAN takes at most half, the rest is for the
        other steps."""
        seconds = min(options.scan_time, remaining / 2)
        ends_at = asyncio.get_running_loop().time() + seconds
        return cls(options.scan_count, math.ceil(options.max_keys / options.scan_count), ends_at)

    def allows_another(self) -> bool:
        return self.calls < self.max_calls and asyncio.get_running_loop().time() < self.ends_at

    async def scan(self, client: RedisClient, cursor: int, pattern: str) -> tuple[int, list[bytes]]:
        self.calls += 1
        return await client.scan(cursor, pattern, self.count)


@dataclass(slots=True)
class PatternSearch:
    """A priority pattern's search, kept between runs: a key that matched (the witness), or where SCAN is.

    A search starts at cursor 0 and goes on across runs until a key matches or the cursor comes back to 0, so
    "no key matches" always means a whole SCAN cycle found none; a known witness costs one EXISTS per run.
    """

    witness: bytes | None = None
    cursor: int = 0


async def find_any(client: RedisClient, pattern: str, search: PatternSearch, budget: ScanBudget) -> bool | None:
    """Whether some key matches: True, False (a whole SCAN cycle found none), None (not known yet: budget spent)."""
    while budget.allows_another():
        search.cursor, keys = await budget.scan(client, search.cursor, pattern)
        if keys:
            search.witness, search.cursor = keys[0], 0
            return True
        if search.cursor == 0:
            return False
    return None


@dataclass(slots=True)
class SessionScan:
    """Where the session sampling stands between runs: the SCAN cursor, and keys SCAN returned past the last run's
    budget (looked at first next run, so the key cap is strict and no key of the cycle is skipped)."""

    pattern: str
    cursor: int = 0
    pending: list[bytes] = field(default_factory=list)
    wrapped: bool = False  # the cursor came back to 0 with keys still pending: the cycle ends once they are seen

    def take(self, room: int) -> list[bytes]:
        """Up to `room` pending keys, in SCAN order; the rest stay pending."""
        if room <= 0:
            return []
        batch, self.pending = self.pending[:room], self.pending[room:]
        return batch

    async def advance(self, client: RedisClient, budget: ScanBudget) -> bool:
        """One SCAN step; its keys join the pending ones. True when the cursor came back to 0 (the cycle's end)."""
        self.cursor, keys = await budget.scan(client, self.cursor, self.pattern)
        self.pending.extend(keys)
        return self.cursor == 0
