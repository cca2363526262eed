"""What a state file keeps of one check: plain frozen values, copied out of the store and put back into it.

Times are wall-clock seconds here (a forecast series runs on the monotonic clock in the store: converted both ways).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.engine.hysteresis import Latch
from app.model import CheckId, CheckResult, Status


@dataclass(frozen=True, slots=True)
class SavedState:
    """A check's state: what its next run is judged against (kept only while its spec is unchanged)."""

    reported: Status | None
    last: CheckResult | None
    consecutive_failures: int
    consecutive_successes: int
    last_success_at: float | None
    latch: Latch | None
    series: tuple[tuple[str, tuple[tuple[float, float], ...]], ...]  # limited measures' per-slot medians


@dataclass(frozen=True, slots=True)
class SavedCheck:
    """A check's history (kept while its id stays) and its state."""

    check_id: CheckId
    history_newest: int | None
    history: tuple[bytes, ...]  # per Status (PASS, WARN, FAIL), the ring's counters
    durations: tuple[float, ...]
    transitions: tuple[tuple[float, str, str, str], ...]  # (at, old state, new state, reason), oldest first
    state: SavedState | None
