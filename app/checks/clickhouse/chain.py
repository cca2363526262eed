"""A rollup chain, compared: the closed buckets each pair of levels is compared over, the lower level re-aggregated
into the upper level's buckets (count and sum add, min and max combine), mismatches found and worded. Pure.

Buckets are the chain's time zone's (`buckets.Buckets`): an hour is the server's toStartOfHour, a day its toDate.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from app import units
from app.checks.clickhouse.buckets import UTC_ZONE, Buckets
from app.checks.clickhouse.config import ClickHouseRollup
from app.checks.clickhouse.names import parse_measure
from app.checks.judging import Finding
from app.model import Observation, Outcome, Status

Rows = dict[int, tuple[Any, ...]]  # bucket start (epoch seconds) -> the level's measure values, in measure order


@dataclass(frozen=True, slots=True)
class Pair:
    """Level `lower` against the level above it, over the upper level's closed buckets in [start, end)."""

    lower: int
    grid: Buckets  # the upper level's buckets
    start: int
    end: int


def pairs(options: ClickHouseRollup, now: int, tz: ZoneInfo = UTC_ZONE) -> list[Pair]:
    """One comparison per adjacent pair of levels: buckets closed at least `settle` ago, covering `lookback`."""
    found = []
    for index in range(len(options.levels) - 1):
        grid = Buckets(options.grouping(index + 1), tz)
        end = grid.floor(int(now - options.settle))
        start = grid.floor(end - math.ceil(options.lookback))
        found.append(Pair(index, grid, start, end))
    return found


def level_span(compared: Sequence[Pair], index: int) -> tuple[int, int]:
    """The time range level `index` is read over: every pair it takes part in, below or above."""
    spans = [(p.start, p.end) for p in compared if p.lower in (index, index - 1)]
    return min(s for s, _ in spans), max(e for _, e in spans)


def combine(function: str, values: Iterable[Any]) -> Any:
    """The measure over a bucket from its parts' values: count and sum add, min and max combine; None parts
    (an aggregate over only NULLs) are left out, and a bucket with nothing else is None."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    if function in ("count", "sum"):
        return sum(present)
    return min(present) if function == "min" else max(present)


def empty_value(function: str) -> Any:
    """A measure over no rows, as compared with a bucket missing on one side: 0 for count and sum, else none."""
    return 0 if function in ("count", "sum") else None


def roll_up(rows: Mapping[int, tuple[Any, ...]], functions: Sequence[str], grid: Buckets, start: int, end: int) -> Rows:
    """The lower level's buckets in [start, end), re-aggregated into `grid`'s buckets."""
    parts: dict[int, list[list[Any]]] = {}
    for b, row in rows.items():
        if start <= b < end:
            columns = parts.setdefault(grid.floor(b), [[] for _ in functions])
            for column, value in zip(columns, row, strict=True):
                column.append(value)
    return {b: tuple(combine(f, c) for f, c in zip(functions, columns, strict=True)) for b, columns in parts.items()}


def agrees(a: Any, b: Any, tolerance: float) -> bool:
    """Integers must be equal; other numbers within `tolerance`, relative to the larger; anything else equal."""
    if a is None or b is None:
        return a is b
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    if isinstance(a, int | float | Decimal) and isinstance(b, int | float | Decimal):
        x, y = float(a), float(b)
        if math.isnan(x) or math.isnan(y):
            return math.isnan(x) and math.isnan(y)
        return abs(x - y) <= tolerance * max(abs(x), abs(y))
    return bool(a == b)


def mismatches(
    below: Rows, above: Rows, names: Sequence[str], functions: Sequence[str], tolerance: float
) -> tuple[list[tuple[int, str]], int]:
    """(bucket, `name lower vs upper, ...`) for each bucket whose measures disagree, and how many were compared.

    A bucket only one side has is compared with the empty value on the other.
    """
    empty = tuple(empty_value(f) for f in functions)
    compared = sorted(set(below) | set(above))
    found = []
    for b in compared:
        low, high = below.get(b, empty), above.get(b, empty)
        differ = [
            f"{name} {units.value(x)} vs {units.value(y)}"
            for name, x, y in zip(names, low, high, strict=True)
            if not agrees(x, y, tolerance)
        ]
        if differ:
            found.append((b, ", ".join(differ)))
    return found, len(compared)


def judge(
    options: ClickHouseRollup, compared: Sequence[Pair], levels: Sequence[Rows], observed: list[Observation]
) -> Outcome:
    """Each pair's mismatches (fail) or emptiness (warn), from every level's rows as read."""
    names = list(options.levels[0].measures)
    lookback = units.span(options.lookback)
    findings: list[Finding] = []
    observed = list(observed)
    summaries = []
    for pair in compared:
        lower, upper = options.levels[pair.lower], options.levels[pair.lower + 1]
        functions = [parse_measure(lower.measures[m])[0] for m in names]
        below = roll_up(levels[pair.lower], functions, pair.grid, pair.start, pair.end)
        above = {b: row for b, row in levels[pair.lower + 1].items() if pair.start <= b < pair.end}
        found, count = mismatches(below, above, names, functions, options.tolerance)
        name = f"{lower.name}->{upper.name}"
        observed.append(Observation(f"{lower.name}_{upper.name}_buckets", count))
        observed.append(Observation(f"{lower.name}_{upper.name}_mismatched_buckets", len(found)))
        if found:
            first, detail = found[0]
            at = pair.grid.label(first)
            where = f"at {at}" if len(found) == 1 else f"in {len(found)} of {count} buckets, first at {at}"
            findings.append((Status.FAIL, f"rollup {name} mismatch {where}: {detail}"))
        elif not count:
            findings.append((Status.WARN, f"rollup {name}: no rows in closed buckets of the last {lookback}"))
        summaries.append(f"{name} agree on {units.plural(count, 'bucket')}")
    return Outcome.from_findings(
        findings, observed, ok=f"{'; '.join(summaries)} (closed buckets of the last {lookback})"
    )
