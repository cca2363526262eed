"""A time-series window, judged: its bounds in the server's clock, freshness, future rows, rows before the floor,
gaps from per-bucket counts (buckets in the check's time zone; none before a young table's first row), and
duplicates. Pure: the timeseries check runs the queries and hands the numbers in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from app import units
from app.checks.clickhouse.buckets import UTC_ZONE, Buckets
from app.checks.clickhouse.config import ClickHouseTimeseries
from app.checks.judging import Finding
from app.model import Limit, Observation, Outcome, Status


@dataclass(frozen=True, slots=True)
class Window:
    """The instants one timeseries run is judged by, in epoch seconds of the server's clock, and its buckets."""

    now: int
    start: int  # the window's start: now - lookback
    future: int  # rows after this are dated in the future: now + clock_skew
    floor: int  # rows before this are impossible
    grid: Buckets  # the buckets gaps are looked for in, in the check's time zone

    @classmethod
    def at(cls, now: int, options: ClickHouseTimeseries, tz: ZoneInfo = UTC_ZONE) -> Window:
        return cls(
            now=now,
            start=now - int(options.lookback),
            future=now + int(options.clock_skew),
            floor=int(options.floor.timestamp()),
            grid=Buckets(int(options.bucket), tz),
        )

    @property
    def bucket(self) -> int:
        return self.grid.size

    @property
    def end(self) -> int:
        """The start of the bucket in progress, which is not judged."""
        return self.grid.floor(self.now)

    @property
    def first(self) -> int:
        """The first bucket judged: the first whole one inside the window, or in a one-bucket window the last closed
        one (which then starts before the window), so a window is never too short to have a bucket judged."""
        return min(self.grid.ceil(self.start), self.grid.floor(self.end - 1))

    def buckets(self) -> list[int]:
        return self.grid.starts(self.first, self.end)


@dataclass(frozen=True, slots=True)
class WindowStats:
    future_rows: int
    latest_future: int
    past_rows: int  # rows before the floor
    earliest_past: int
    rows: int  # rows in the window
    newest: int  # the newest row in the window (meaningless when rows is 0)
    oldest: int = 0  # the oldest row in the window (meaningless when rows is 0)


@dataclass(frozen=True, slots=True)
class Duplicates:
    keys: int  # distinct keys seen more than once
    extra: int  # rows beyond the first for each such key
    worst_count: int
    worst_key: str


def gaps(window: Window, counts: Mapping[int, int], min_rows: int, since: int | None = None) -> list[int]:
    """The judged buckets (by start) holding fewer than `min_rows` rows; with `since` (a young table's first row),
    only buckets starting at or after it: before it the table did not exist yet."""
    return [b for b in window.buckets() if counts.get(b, 0) < min_rows and (since is None or b >= since)]


def leading_gaps(window: Window, counts: Mapping[int, int], min_rows: int, stats: WindowStats) -> bool:
    """Whether some gap starts before the window's oldest row: then whether the table is older matters."""
    return bool(stats.rows) and any(b < stats.oldest for b in gaps(window, counts, min_rows))


def foreign_buckets(window: Window, counts: Mapping[int, int]) -> list[int]:
    """Buckets the server drew that Vigil's time zone rules do not have (their tz databases differ)."""
    expected = set(window.buckets())
    return sorted(b for b in counts if b not in expected)


def judge(
    options: ClickHouseTimeseries,
    window: Window,
    stats: WindowStats,
    counts: Mapping[int, int] | None,  # rows per bucket; None when gap detection is off
    duplicates: Duplicates | None,  # None when no key columns are configured
    observed: list[Observation],
    young: bool = False,  # the table has no row before the window: buckets before its oldest row are not gaps
) -> Outcome:
    """The window's Outcome from its numbers; `observed` holds what the queries cost."""
    span = units.span(options.lookback)
    young = young and stats.rows > 0
    age = units.age(max(0, window.now - stats.oldest))
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
        observed.append(
            Observation("lag", lag, "s", Limit(options.max_lag, f"the {units.span(options.max_lag)} max lag"))
        )
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
    if young:
        observed.append(Observation("table_age", max(0, window.now - stats.oldest), "s"))
    if counts is not None:
        empty = gaps(window, counts, options.min_bucket_rows, since=stats.oldest if young else None)
        observed.append(Observation("gaps", len(empty)))
        if empty and stats.rows:  # an empty window is one finding ("no rows"), not one per bucket as well
            what = "with no rows" if options.min_bucket_rows == 1 else f"under {options.min_bucket_rows} rows"
            first = window.grid.label(empty[0])
            since = f"since the table's first row {age} ago" if young else f"in the last {span}"
            text = f"{units.plural(len(empty), 'gap')} {since} ({units.span(window.bucket)} buckets {what})"
            findings.append((Status.FAIL, f"{text}, first at {first}"))
        if foreign := foreign_buckets(window, counts):
            findings.append(
                (
                    Status.FAIL,
                    f"the server's {units.span(window.bucket)} buckets in {window.grid.zone_name} differ from Vigil's "
                    f"(a bucket at {units.timestamp(foreign[0])} UTC); the two time zone databases disagree",
                )
            )
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
    younger = f" (table younger than that: first row {age} old)" if young else ""
    ok = (
        f"{units.plural(stats.rows, 'row')} in the last {span}{younger}, newest {units.age(lag)} old; "
        f"no {', '.join(clean[:-1])} or {clean[-1]} rows"
    )
    return Outcome.from_findings(findings, observed, ok=ok)
