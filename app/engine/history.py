"""Bounded history per check: runs counted per time slot (pass / warn / fail) in a fixed ring.

Memory is constant per check whatever its interval (24 h of one-minute slots: 1,440 x 3 small counters), and
availability over 5 m / 1 h / 24 h is kept as running sums, so reading it costs O(1) per check.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass

from app.model import Status

SLOT = 60.0  # seconds per slot: the resolution of availability windows and of the status page's bar
WINDOWS = {"5m": 300.0, "1h": 3600.0, "24h": 86400.0}
_MAX_COUNT = 65_535  # per slot and status ('H' counters); one run every 1 ms for a minute would reach it


@dataclass(frozen=True, slots=True)
class Cell:
    """Runs in one span of time: what a status page draws as one bar cell."""

    start: float  # wall clock
    end: float
    passed: int
    warned: int
    failed: int

    @property
    def runs(self) -> int:
        return self.passed + self.warned + self.failed

    @property
    def worst(self) -> Status | None:
        if self.failed:
            return Status.FAIL
        if self.warned:
            return Status.WARN
        return Status.PASS if self.passed else None


class History:
    """Per-slot run counts over `span` seconds; `add` is the only writer (the store, for the scheduler)."""

    def __init__(self, span: float = 86400.0, slot: float = SLOT) -> None:
        self.slot = slot
        self.size = max(1, math.ceil(span / slot))
        self.counts = {status: array("H", bytes(2 * self.size)) for status in Status}
        self.newest: int | None = None  # absolute slot number (time // slot) of the newest slot written
        self.windows = {name: max(1, math.ceil(span_ / slot)) for name, span_ in WINDOWS.items() if span_ <= span}
        if not self.windows:
            self.windows = {"all": self.size}
        self._ok = dict.fromkeys(self.windows, 0)  # running sums over each window, ending at `newest`
        self._total = dict.fromkeys(self.windows, 0)

    def add(self, at: float, status: Status) -> None:
        number = int(at // self.slot)
        if self.newest is None or number > self.newest:
            self._advance(number)
        assert self.newest is not None
        if number <= self.newest - self.size:
            return  # older than the whole history
        counts = self.counts[status]
        index = number % self.size
        if counts[index] < _MAX_COUNT:
            counts[index] += 1
        for name, length in self.windows.items():
            if number > self.newest - length:
                self._total[name] += 1
                self._ok[name] += status.ok

    def _advance(self, number: int) -> None:
        """Move the newest slot to `number`: slots that leave a window are subtracted, reused slots zeroed."""
        if self.newest is None or number - self.newest >= self.size:
            for counts in self.counts.values():
                counts[:] = array("H", bytes(2 * self.size))
            self._ok = dict.fromkeys(self.windows, 0)
            self._total = dict.fromkeys(self.windows, 0)
            self.newest = number
            return
        for step in range(self.newest + 1, number + 1):
            for name, length in self.windows.items():
                leaving = (step - length) % self.size
                failed = self.counts[Status.FAIL][leaving]
                total = failed + self.counts[Status.PASS][leaving] + self.counts[Status.WARN][leaving]
                self._total[name] -= total
                self._ok[name] -= total - failed
            index = step % self.size
            for counts in self.counts.values():
                counts[index] = 0
        self.newest = number

    def export(self) -> tuple[int | None, tuple[bytes, ...]]:
        """The newest slot's number and each status's counters (PASS, WARN, FAIL order) as bytes: a copy."""
        return self.newest, tuple(self.counts[status].tobytes() for status in Status)

    def restore(self, newest: int, counts: tuple[bytes, ...]) -> None:
        """Replace the history with an exported one (same slot length). A ring of another size (the history span
        changed) keeps the slots both cover; the running sums are recomputed from the slots."""
        saved = [array("H", data) for data in counts]
        if len(saved) != len(Status) or len({len(ring) for ring in saved}) != 1 or not saved[0]:
            raise ValueError("history counters of unequal or zero length")
        if len(saved[0]) == self.size:
            fresh = saved
        else:
            fresh = [array("H", bytes(2 * self.size)) for _ in Status]
            for number in range(newest - min(len(saved[0]), self.size) + 1, newest + 1):
                for ring, old in zip(fresh, saved, strict=True):
                    ring[number % self.size] = old[number % len(old)]
        self.counts = dict(zip(Status, fresh, strict=True))
        self.newest = newest
        for name, length in self.windows.items():
            passed, warned, failed = self._sums(newest - length + 1, newest)
            self._ok[name], self._total[name] = passed + warned, passed + warned + failed

    def ratios(self, now: float) -> dict[str, float | None]:
        """Share of ok (pass or warn) runs per window ending at `now`; None for a window with no run."""
        number = int(now // self.slot)
        ratios: dict[str, float | None] = {}
        for name, length in self.windows.items():
            if self.newest is not None and number == self.newest:
                ok, total = self._ok[name], self._total[name]
            else:  # no run yet in the current slot: sum the slots still inside the window
                passed, warned, failed = self._sums(number - length + 1, number)
                ok, total = passed + warned, passed + warned + failed
            ratios[name] = ok / total if total else None
        return ratios

    def _sums(self, first: int, last: int) -> tuple[int, int, int]:
        """Runs passed, warned and failed in the slots numbered first..last (slots outside the ring count 0),
        summed over array slices: no Python loop per slot."""
        if self.newest is None:
            return 0, 0, 0
        first, last = max(first, self.newest - self.size + 1), min(last, self.newest)
        if first > last:
            return 0, 0, 0
        start, stop = first % self.size, last % self.size
        sums = []
        for status in (Status.PASS, Status.WARN, Status.FAIL):
            counts = self.counts[status]
            sums.append(
                sum(counts[start : stop + 1]) if start <= stop else sum(counts[start:]) + sum(counts[: stop + 1])
            )
        return sums[0], sums[1], sums[2]

    def cells(self, now: float, count: int) -> list[Cell]:
        """The whole history ending at `now` in `count` equal cells, oldest first (the status page's bar)."""
        last = int(now // self.slot)
        per_cell = max(1, self.size // count)
        first = last - per_cell * count + 1
        cells = []
        for start in range(first, last + 1, per_cell):
            passed, warned, failed = self._sums(start, start + per_cell - 1)
            cells.append(Cell(start * self.slot, (start + per_cell) * self.slot, passed, warned, failed))
        return cells
