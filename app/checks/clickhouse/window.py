"""A time-series window, judged: its bounds in the server's clock, freshness, future rows, rows before the floor,
gaps from per-bucket counts, and duplicates. Pure: the timeseries check runs the queries and hands the numbers in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app import units
from app.checks.clickhouse.config import ClickHouseTimeseries
from app.checks.clickhouse.judge import Finding
from app.model import Observation, Outcome, Status


@dataclass(frozen=True, slots=True)
class Window:
    """The instants one timeseries run is judged by, in epoch seconds of the server's clock."""

    now: int
    start: int  # the window's start: now - lookback
    future: int  # rows after this are dated in the future: now + clock_skew
    floor: int  # rows before this are impossible
    bucket: int

    @classmethod
    def at(cls, now: int, options: ClickHouseTimeseries) -> Window:
        return cls(
            now=now,
            start=now - int(options.lookback),
            future=now + int(options.clock_skew),
            floor=int(options.floor.timestamp()),
            bucket=int(options.bucket),
        )

    @property
    def end(self) -> int:
        """The start of the bucket in progress, which is not judged."""
        return self.now // self.bucket * self.bucket

    @property
    def first(self) -> int:
        """The first bucket judged: the first whole one inside the window, or in a one-bucket window the last closed
        one (which then starts before the window), so a window is never too short to have a bucket judged."""
        return min(-(-self.start // self.bucket) * self.bucket, self.end - self.bucket)

    def buckets(self) -> range:
        return range(self.first, self.end, self.bucket)


@dataclass(frozen=True, slots=True)
class WindowStats:
    future_rows: int
    latest_future: int
    past_rows: int  # rows before the floor
    earliest_past: int
    rows: int  # rows in the window
    newest: int  # the newest row in the window (meaningless when rows is 0)


@dataclass(frozen=True, slots=True)
class Duplicates:
    keys: int  # distinct keys seen more than once
    extra: int  # rows beyond the first for each such key
    worst_count: int
    worst_key: str


def gaps(window: Window, counts: Mapping[int, int], min_rows: int) -> list[int]:
    """The judged buckets (by start) holding fewer than `min_rows` rows."""
    return [b for b in window.buckets() if counts.get(b, 0) < min_rows]


def judge(
    options: ClickHouseTimeseries,
    window: Window,
    stats: WindowStats,
    counts: Mapping[int, int] | None,  # rows per bucket; None when gap detection is off
    duplicates: Duplicates | None,  # None when no key columns are configured
    observed: list[Observation],
) -> Outcome:
    """The window's Outcome from its numbers; `observed` holds what the queries cost."""
    span = units.span(options.lookback)
    findings: list[Finding] = []
    observed = observed + [
        Observation("window_rows", stats.rows, "rows"),
        Observation("future_rows", stats.future_rows, "rows"),
        Observation("past_rows", stats.past_rows, "rows"),
    ]
    lag = max(0, window.now - stats.newest)
    if stats.rows == 0:
        findings.append((Status.FAIL, f"no rows in the last {span}"))
    else:
        observed.append(Observation("lag", lag, "s"))
        if lag > options.max_lag:
            when = units.timestamp(stats.newest)
            findings.append(
                (Status.FAIL, f"newest row is {units.age(lag)} old ({when}), max lag {units.span(options.max_lag)}")
            )
    if stats.future_rows:
        rows = units.plural(stats.future_rows, "row")
        findings.append((Status.FAIL, f"{rows} dated in the future, worst {units.timestamp(stats.latest_future)}"))
    if stats.past_rows:
        rows = units.plural(stats.past_rows, "row")
        floor, earliest = units.timestamp(window.floor), units.timestamp(stats.earliest_past)
        findings.append((Status.FAIL, f"{rows} dated before {floor}, earliest {earliest}"))
    if counts is not None:
        empty = gaps(window, counts, options.min_bucket_rows)
        observed.append(Observation("gaps", len(empty)))
        if empty and stats.rows:  # an empty window is one finding ("no rows"), not one per bucket as well
            what = "with no rows" if options.min_bucket_rows == 1 else f"under {options.min_bucket_rows} rows"
            first = units.bucket_start(empty[0], window.bucket)
            text = f"{units.plural(len(empty), 'gap')} in the last {span} ({units.span(window.bucket)} buckets {what})"
            findings.append((Status.FAIL, f"{text}, first at {first}"))
    if duplicates is not None:
        observed.append(Observation("duplicate_rows", duplicates.extra, "rows"))
        if duplicates.extra > options.max_duplicates:
            rows, keys = units.plural(duplicates.extra, "duplicate row"), units.plural(duplicates.keys, "key")
            where = f"on ({', '.join(options.keys)}) in the last {span}"
            worst = f"worst {duplicates.worst_key} x{duplicates.worst_count}"
            findings.append((Status.FAIL, f"{rows} {where}, {keys} repeated, {worst}"))
    clean = ["gaps"] if counts is not None else []
    clean += ["future", f"pre-{units.timestamp(window.floor)[:10]}"]
    if duplicates is not None:
        clean.append("duplicate")
    ok = (
        f"{units.plural(stats.rows, 'row')} in the last {span}, newest {units.age(lag)} old; "
        f"no {', '.join(clean[:-1])} or {clean[-1]} rows"
    )
    return Outcome.from_findings(findings, observed, ok=ok)
