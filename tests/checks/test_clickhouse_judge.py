"""The `clickhouse` checks' pure judgement (judge, window, chain): numbers in, findings and outputs out, no server.

The edge cases: no time left before the deadline, one-bucket and empty windows, None values, tolerance, wording.
"""

from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.checks.clickhouse import chain, judge, window
from app.checks.clickhouse.buckets import Buckets, UnknownZone, zone
from app.checks.clickhouse.chain import Pair
from app.checks.clickhouse.config import ClickHouseQueryPerformance, ClickHouseRollup, ClickHouseTimeseries
from app.checks.clickhouse.judge import Budget, QueryRun
from app.checks.clickhouse.window import Duplicates, Window, WindowStats
from app.model import Observation, Status

DAY = int(datetime(2026, 11, 27, tzinfo=UTC).timestamp())  # a midnight, UTC
H = 3600
BERLIN, KOLKATA = ZoneInfo("Europe/Berlin"), ZoneInfo("Asia/Kolkata")


def utc(*args: int) -> int:
    """An instant given as a UTC date and time."""
    return int(datetime(*args, tzinfo=UTC).timestamp())


def at(hour: int, minute: int = 0) -> int:
    """An instant on DAY (negative hours: the day before)."""
    return DAY + hour * H + minute * 60


# -- query budgets ----------------------------------------------------------------------------------


def test_a_query_gets_the_time_left_less_the_margin_or_its_own_tighter_timeout() -> None:
    assert judge.query_budget(5.0, None) == Budget(5.0 - judge.DEADLINE_MARGIN, own_timeout=False)
    assert judge.query_budget(5.0, 0.7) == Budget(0.7, own_timeout=True)
    assert judge.query_budget(0.5, 2.0) == Budget(0.5 - judge.DEADLINE_MARGIN, own_timeout=False)  # the deadline binds


@pytest.mark.parametrize("remaining", [0.0, 0.05, judge.DEADLINE_MARGIN])
def test_no_time_left_before_the_deadline_means_no_query(remaining: float) -> None:
    assert judge.query_budget(remaining, None) is None
    assert judge.query_budget(remaining, 0.01) is None  # even a tiny own timeout does not start it


# -- query SLAs -------------------------------------------------------------------------------------


def perf(warn_fraction: float = 0.8, **queries: Any) -> ClickHouseQueryPerformance:
    return ClickHouseQueryPerformance(queries=queries or {"a": "SELECT 1"}, warn_fraction=warn_fraction)


def test_query_within_sla_passes_near_it_warns_at_the_fraction_fails_at_it() -> None:
    assert judge.query_finding("a", 1.0, 0.8, QueryRun(elapsed=0.5)) == (Status.PASS, "")
    assert judge.query_finding("a", 1.0, 0.8, QueryRun(elapsed=0.79)) == (Status.PASS, "")
    assert judge.query_finding("a", 1.0, 0.8, QueryRun(elapsed=0.85)) == (
        Status.WARN,
        "query a took 850 ms, at or above the 800 ms warn threshold of its 1 s SLA",
    )
    assert judge.query_finding("a", 1.0, 0.8, QueryRun(elapsed=1.0)) == (  # at the SLA: reached
        Status.FAIL,
        "query a took 1 s, at or above the 1 s SLA",
    )
    assert judge.query_finding("a", 0.01, 0.8, QueryRun(elapsed=1.26)) == (
        Status.FAIL,
        "query a took 1.26 s, at or above the 10 ms SLA",
    )


def test_query_cancelled_refused_failed_or_not_run_fails() -> None:
    cancelled = QueryRun(cancelled="query a cancelled at its 700 ms timeout")
    assert judge.query_finding("a", 5.0, 0.8, cancelled) == (
        Status.FAIL,
        "query a cancelled at its 700 ms timeout, SLA 5 s",
    )
    refused = QueryRun(error=(164, "Cannot drop table in readonly mode"))
    assert judge.query_finding("a", 5.0, 0.8, refused) == (
        Status.FAIL,
        "query a refused by the server: Cannot drop table in readonly mode (code 164)",
    )
    failed = QueryRun(error=(60, "Table db.nope doesn't exist."))
    assert judge.query_finding("a", 5.0, 0.8, failed) == (
        Status.FAIL,
        "query a failed: Table db.nope doesn't exist. (code 60)",
    )
    assert judge.query_finding("a", 5.0, 0.8, QueryRun()) == (
        Status.FAIL,
        "query a not run: no time left before the check's deadline",
    )


def test_query_performance_outcome_lists_failures_first_and_times_when_all_pass() -> None:
    options = perf(fast="SELECT 1", slow={"sql": "SELECT 2", "sla": 1}, late={"sql": "SELECT 3", "sla": 2})
    runs = {"fast": QueryRun(elapsed=0.0031), "slow": QueryRun(elapsed=0.9), "late": QueryRun()}
    observed = [Observation("fast_latency", 0.0031, "s")]
    outcome = judge.query_performance(options, runs, observed)
    assert outcome.status is Status.FAIL
    assert outcome.output == (
        "query late not run: no time left before the check's deadline; "
        "query slow took 900 ms, at or above the 800 ms warn threshold of its 1 s SLA"
    )
    assert outcome.observed == tuple(observed)
    one = judge.query_performance(perf(), {"a": QueryRun(elapsed=0.0031)}, [])
    assert (one.status, one.output) == (Status.PASS, "1 query within SLA: a 3.1 ms of 5 s")
    two = judge.query_performance(
        perf(a="SELECT 1", b="SELECT 2"), {"a": QueryRun(elapsed=0.2), "b": QueryRun(elapsed=1.5)}, []
    )
    assert two.output == "2 queries within SLA: a 200 ms of 5 s, b 1.5 s of 5 s"


def test_queries_kept_from_starting_by_a_query_still_on_the_server_share_one_finding() -> None:
    reason = "previous query slow still running on the server after cancel (1.5 s so far); not starting another"
    options = perf(slow="SELECT 1", a="SELECT 2", b="SELECT 3")
    runs = {
        "slow": QueryRun(cancelled="query slow cancelled at its 300 ms timeout"),
        "a": QueryRun(blocked=reason),
        "b": QueryRun(blocked=reason),
    }
    outcome = judge.query_performance(options, runs, [])
    assert (outcome.status, outcome.output) == (
        Status.FAIL,
        f"query slow cancelled at its 300 ms timeout, SLA 5 s; queries a, b not run: {reason}",
    )
    assert judge.query_finding("a", 5.0, 0.8, QueryRun(blocked=reason)) == (Status.FAIL, f"query a not run: {reason}")


def test_connectivity_wording() -> None:
    ok = judge.connectivity((1, "18.16.1", 3600), 0.00123, None)
    assert (ok.status, ok.output) == (Status.PASS, "SELECT 1 in 1.23 ms from ClickHouse 18.16.1")
    assert {o.name: o.value for o in ok.observed} == {"latency": 0.00123, "server_version": "18.16.1", "uptime": 3600}
    slow = judge.connectivity((1, "18.16.1", 3600), 0.25, 0.1)
    assert (slow.status, slow.output) == (Status.WARN, "SELECT 1 took 250 ms, at or above the 100ms warn threshold")
    wrong = judge.connectivity((0, "18.16.1", 3600), 0.001, None)
    assert (wrong.status, wrong.output) == (Status.FAIL, "SELECT 1 returned 0")


# -- timeseries windows -----------------------------------------------------------------------------


def ts(**options: Any) -> ClickHouseTimeseries:
    return ClickHouseTimeseries(**{"table": "db.events", "time_column": "ts", "keys": ["event_id"], **options})


def test_window_bounds_judge_the_closed_buckets_inside_it() -> None:
    w = Window.at(at(16, 5), ts(clock_skew="5m"))
    assert (w.start, w.future, w.floor) == (at(-8, 5), at(16, 10), int(datetime(2000, 1, 1, tzinfo=UTC).timestamp()))
    assert (w.first, w.end) == (at(-7), at(16))  # the bucket in progress (16:00) is not judged
    assert len(w.buckets()) == 23
    aligned = Window.at(at(16), ts())
    assert (aligned.first, aligned.end, len(aligned.buckets())) == (at(-8), at(16), 24)


@pytest.mark.parametrize("now", [at(16, 5), at(16)])
def test_a_one_bucket_window_still_judges_the_last_closed_bucket(now: int) -> None:
    w = Window.at(now, ts(lookback="1h", bucket="1h"))
    assert list(w.buckets()) == [at(15)]
    assert window.gaps(w, {}, 1) == [at(15)]
    assert window.gaps(w, {at(15): 1}, 1) == []
    daily = Window.at(at(16, 5), ts(lookback="24h", bucket="24h"))
    assert list(daily.buckets()) == [at(-24)]  # yesterday, though it started before the window


def test_gaps_are_buckets_under_min_rows() -> None:
    w = Window.at(at(16, 5), ts())
    counts = {b: 60 for b in w.buckets()}
    assert window.gaps(w, counts, 1) == []
    del counts[at(3)]
    counts[at(9)] = 59
    assert window.gaps(w, counts, 1) == [at(3)]
    assert window.gaps(w, counts, 60) == [at(3), at(9)]


def stats(
    rows: int = 1380, newest: int = at(16, 4), future: int = 0, past: int = 0, oldest: int = at(-7, 6)
) -> WindowStats:
    return WindowStats(future, at(40) if future else 0, past, 0 if past else 0, rows, newest, oldest)


def outcome(
    options: ClickHouseTimeseries,
    s: WindowStats,
    counts: dict[int, int] | None = None,
    dups: Duplicates | None = None,
    young: bool = False,
    zone: ZoneInfo | None = None,
) -> Any:
    w = Window.at(at(16, 5), options, zone or ZoneInfo("UTC"))
    if counts is None and options.min_bucket_rows:
        counts = {b: 60 for b in w.buckets()}
    if dups is None and options.keys:
        dups = Duplicates(0, 0, 0, "")
    return window.judge(options, w, s, counts, dups, [Observation("stats_latency", 0.01, "s")], young=young)


def test_consistent_window_passes_naming_what_was_checked() -> None:
    result = outcome(ts(), stats())
    assert (result.status, result.output) == (
        Status.PASS,
        "1380 rows in the last 24h, newest 60 s old; no gaps, future, pre-2000-01-01 or duplicate rows",
    )
    values = {o.name: o.value for o in result.observed}
    assert values == {
        "stats_latency": 0.01,
        "window_rows": 1380,
        "future_rows": 0,
        "past_rows": 0,
        "lag": 60,
        "gaps": 0,
        "duplicate_rows": 0,
    }
    plain = outcome(ts(keys=[], min_bucket_rows=0), stats(rows=1))
    assert plain.output == "1 row in the last 24h, newest 60 s old; no future or pre-2000-01-01 rows"


def test_an_empty_window_is_one_finding_not_one_per_bucket() -> None:
    result = outcome(ts(), stats(rows=0, newest=0), counts={})
    assert (result.status, result.output) == (Status.FAIL, "no rows in the last 24h")
    values = {o.name: o.value for o in result.observed}
    assert values["gaps"] == 23 and "lag" not in values


def test_stale_future_past_gaps_and_duplicates_are_each_worded() -> None:
    w = Window.at(at(16, 5), ts())
    counts = {b: 60 for b in w.buckets() if b not in (at(3), at(4))}
    result = outcome(
        ts(max_lag="2h", min_bucket_rows=1),
        WindowStats(12, at(40), 3, 0, 1000, at(13, 5)),
        counts=counts,
        dups=Duplicates(5, 6, 3, "4242"),
    )
    assert result.status is Status.FAIL
    assert result.output.split("; ") == [
        "newest row is 3.0 h old (2026-11-27 13:05:00), max lag 2h",
        "12 rows dated in the future, worst 2026-11-28 16:00:00",
        "3 rows dated before 2000-01-01 00:00:00, earliest 1970-01-01 00:00:00",
        "2 gaps in the last 24h (1h buckets with no rows), first at 2026-11-27 03:00",
        "6 duplicate rows on (event_id) in the last 24h, 5 keys repeated, worst 4242 x3",
    ]
    sparse = outcome(ts(min_bucket_rows=100), stats())
    assert sparse.output == "23 gaps in the last 24h (1h buckets under 100 rows), first at 2026-11-26 17:00"
    tolerated = outcome(ts(max_duplicates=6), stats(), dups=Duplicates(5, 6, 3, "4242"))
    assert tolerated.status is Status.PASS


# -- buckets in a time zone ------------------------------------------------------------------------


def test_days_across_a_dst_change_have_23_or_25_hours() -> None:
    days = Buckets(86400, BERLIN)
    spring = days.floor(utc(2026, 3, 29, 12))
    assert spring == utc(2026, 3, 28, 23)  # midnight CET
    assert days.next(spring) - spring == 23 * H
    autumn = days.floor(utc(2026, 10, 25, 12))
    assert autumn == utc(2026, 10, 24, 22)  # midnight CEST
    assert days.next(autumn) - autumn == 25 * H
    assert days.floor(utc(2026, 10, 25, 22, 59)) == autumn and days.floor(utc(2026, 10, 25, 23)) == autumn + 25 * H
    assert (days.label(spring), days.label(autumn)) == ("2026-03-29 Europe/Berlin", "2026-10-25 Europe/Berlin")


def test_hours_on_dst_days_are_real_hours_and_the_repeated_hour_is_told_apart() -> None:
    hours = Buckets(H, BERLIN)
    spring = hours.starts(utc(2026, 3, 28, 23), utc(2026, 3, 29, 22))
    assert len(spring) == 23 and all(b % H == 0 for b in spring)
    assert [hours.label(b) for b in spring[1:3]] == ["2026-03-29 01:00 Europe/Berlin", "2026-03-29 03:00 Europe/Berlin"]
    autumn = hours.starts(utc(2026, 10, 24, 22), utc(2026, 10, 25, 23))
    assert len(autumn) == 25
    assert [hours.label(b) for b in autumn[2:4]] == [
        "2026-10-25 02:00 Europe/Berlin (UTC+02:00)",
        "2026-10-25 02:00 Europe/Berlin (UTC+01:00)",
    ]


def test_half_hour_zones_start_hours_at_half_past_utc() -> None:
    hours = Buckets(H, KOLKATA)
    assert hours.floor(utc(2026, 11, 27, 10, 15)) == utc(2026, 11, 27, 9, 30)
    assert hours.floor(utc(2026, 11, 27, 10, 45)) == utc(2026, 11, 27, 10, 30)
    assert hours.label(utc(2026, 11, 27, 9, 30)) == "2026-11-27 15:00 Asia/Kolkata"
    assert Buckets(86400, KOLKATA).floor(utc(2026, 11, 27, 20)) == utc(2026, 11, 27, 18, 30)  # local midnight
    assert Buckets(15 * 60, KOLKATA).floor(utc(2026, 11, 27, 10, 14)) == utc(2026, 11, 27, 10)


def test_buckets_that_divide_a_day_count_from_local_midnight_and_others_from_the_epoch() -> None:
    two = Buckets(2 * H, BERLIN)
    day = two.starts(utc(2026, 3, 28, 23), utc(2026, 3, 29, 22))  # the 23-hour day: the last bucket is 1 h
    assert len(day) == 12 and utc(2026, 3, 29, 22) - day[-1] == H
    assert two.floor(utc(2026, 11, 27, 0, 30)) == utc(2026, 11, 26, 23)  # 00:00 CET
    week = Buckets(7 * 86400, BERLIN)
    assert datetime.fromtimestamp(week.floor(utc(2026, 11, 27, 12)), BERLIN).isoformat() == "2026-11-26T00:00:00+01:00"
    odd = Buckets(7 * H, BERLIN)
    assert not odd.nests_in_days and odd.floor(utc(2026, 11, 27, 12)) == utc(2026, 11, 27, 12) // (7 * H) * (7 * H)
    assert Buckets(H).label(utc(2026, 11, 27, 16)) == "2026-11-27 16:00"  # UTC: as before, no zone named
    assert Buckets(H, ZoneInfo("Etc/UTC")).utc


@pytest.mark.parametrize("name", ["Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe", "America/Havana", "UTC"])
@pytest.mark.parametrize("size", [1800, H, 2 * H, 86400, 7 * 86400, 7 * H])
def test_buckets_tile_time_across_a_year_of_dst_changes(name: str, size: int) -> None:
    """Lord Howe moves its clocks by 30 minutes, Havana at midnight: every bucket starts where the last ended."""
    grid = Buckets(size, ZoneInfo(name))
    first = grid.floor(utc(2026, 1, 1))
    starts = grid.starts(first, utc(2027, 1, 1))
    assert starts[0] <= utc(2026, 1, 1) < starts[0] + size + H
    for start, following in zip(starts, starts[1:], strict=False):
        assert grid.next(start) == following and grid.floor(start) == start
        assert grid.floor(following - 1) == start and grid.floor((start + following) // 2) == start


def test_zone_names_are_iana_names() -> None:
    assert zone("Asia/Kolkata") is KOLKATA
    for bad in ("Mars/Olympus", "", "../etc/passwd", "/etc/localtime"):
        with pytest.raises(UnknownZone):
            zone(bad)


def test_utc_needs_no_time_zone_database(tmp_path: Path) -> None:
    """A bare image without tzdata: UTC servers still work, a named zone is a clear error, nothing fails at import."""
    script = (
        "from app.checks.clickhouse.buckets import Buckets, UnknownZone, zone\n"
        "assert zone('UTC').key == 'UTC' and zone('Etc/UTC').key in ('UTC', 'Etc/UTC')\n"
        "assert Buckets(3600, zone('UTC')).label(1795795200) == '2026-11-27 16:00'\n"
        "try:\n    zone('Europe/Berlin')\nexcept UnknownZone as exc:\n    print(exc)\n"
    )
    env = {**os.environ, "PYTHONTZPATH": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 0, done.stderr
    if importlib.util.find_spec("tzdata") is None:  # else zoneinfo finds Berlin in the tzdata package
        assert done.stdout.strip() == "'Europe/Berlin': no time zone database here (install tzdata)"


def test_a_window_in_a_zone_judges_local_days_across_a_dst_change() -> None:
    now = utc(2026, 10, 27, 10)
    w = Window.at(now, ts(lookback="4d", bucket="1d"), BERLIN)
    assert [datetime.fromtimestamp(b, BERLIN).strftime("%m-%d") for b in w.buckets()] == ["10-24", "10-25", "10-26"]
    assert w.end == utc(2026, 10, 26, 23)  # today began at midnight CET
    counts = {b: 1 for b in w.buckets()}
    del counts[utc(2026, 10, 24, 22)]
    result = window.judge(ts(lookback="4d", bucket="1d", keys=[]), w, stats(newest=now - 60), counts, None, [])
    assert result.output == "1 gap in the last 96h (24h buckets with no rows), first at 2026-10-25 Europe/Berlin"


# -- young tables -----------------------------------------------------------------------------------


def test_buckets_before_a_young_tables_first_row_are_not_gaps() -> None:
    w = Window.at(at(16, 5), ts())
    first_row = at(10, 20)
    counts = {b: 60 for b in w.buckets() if b >= at(10)}
    assert window.gaps(w, counts, 1) == w.buckets()[: w.buckets().index(at(10))]
    assert window.gaps(w, counts, 1, since=first_row) == []
    assert window.gaps(w, counts, 61, since=first_row) == [at(h) for h in range(11, 16)]  # the partial 10:00 not
    young = stats(rows=350, oldest=first_row)
    assert window.leading_gaps(w, counts, 1, young)
    result = outcome(ts(), young, counts=counts, young=True)
    assert (result.status, result.output) == (
        Status.PASS,
        "350 rows in the last 24h (table younger than that: first row 5.8 h old), newest 60 s old; "
        "no gaps, future, pre-2000-01-01 or duplicate rows",
    )
    values = {o.name: o.value for o in result.observed}
    assert (values["gaps"], values["table_age"]) == (0, at(16, 5) - first_row)
    del counts[at(13)]
    holed = outcome(ts(), young, counts=counts, young=True)
    assert holed.output == (
        "1 gap since the table's first row 5.8 h ago (1h buckets with no rows), first at 2026-11-27 13:00"
    )
    older = outcome(ts(), young, counts=counts)  # rows before the window: the early hours are gaps after all
    assert older.output.startswith("18 gaps in the last 24h (1h buckets with no rows), first at 2026-11-26 17:00")


def test_buckets_the_server_draws_differently_are_reported() -> None:
    w = Window.at(at(16, 5), ts(), KOLKATA)
    counts = {b: 60 for b in w.buckets()}
    counts[at(12)] = 60  # a whole UTC hour: not a bucket start in Asia/Kolkata
    result = outcome(ts(), stats(), counts=counts, zone=KOLKATA)
    assert result.output == (
        "the server's 1h buckets in Asia/Kolkata differ from Vigil's (a bucket at 2026-11-27 12:00:00 UTC); "
        "the two time zone databases disagree"
    )


# -- rollup chains ----------------------------------------------------------------------------------


def rollup_options(**options: Any) -> ClickHouseRollup:
    levels = [
        {
            "name": "raw",
            "table": "db.events",
            "time_column": "ts",
            "measures": {"count": "count()", "value": "sum(value)"},
        },
        {
            "name": "hourly",
            "table": "db.hourly",
            "time_column": "hour",
            "bucket": "1h",
            "measures": {"count": "sum(events)", "value": "sum(value)"},
        },
        {
            "name": "daily",
            "table": "db.daily",
            "time_column": "day",
            "bucket": "24h",
            "measures": {"count": "sum(events)", "value": "sum(value)"},
        },
    ]
    return ClickHouseRollup(**{"levels": levels, "lookback": "48h", "settle": "1m", **options})


def test_pairs_compare_closed_settled_buckets_and_each_level_is_read_once_over_its_pairs() -> None:
    options = rollup_options()
    pairs = chain.pairs(options, at(16) + 30)  # 16:00:30: the 15:00 hour closed less than `settle` ago
    assert pairs == [Pair(0, Buckets(H), at(15) - 48 * H, at(15)), Pair(1, Buckets(24 * H), at(-48), DAY)]
    assert chain.level_span(pairs, 0) == (at(15) - 48 * H, at(15))
    assert chain.level_span(pairs, 1) == (at(-48), at(15))  # below daily and above raw
    assert chain.level_span(pairs, 2) == (at(-48), DAY)


def test_roll_up_adds_counts_and_sums_and_combines_min_and_max_leaving_none_out() -> None:
    rows = {
        at(13): (1, 0.5, 7, 7),
        at(13, 1): (1, 0.25, 3, 9),
        at(13, 2): (0, None, None, None),
        at(14): (2, None, None, None),
    }
    rolled = chain.roll_up(rows, ["count", "sum", "min", "max"], Buckets(H), at(13), at(15))
    assert rolled == {at(13): (2, 0.75, 3, 9), at(14): (2, None, None, None)}
    assert chain.roll_up(rows, ["count", "sum", "min", "max"], Buckets(H), at(14), at(15)) == {
        at(14): (2, None, None, None)
    }
    assert chain.combine("sum", []) is None and chain.empty_value("count") == 0 and chain.empty_value("max") is None


def test_agreement_is_exact_for_integers_within_tolerance_otherwise() -> None:
    assert chain.agrees(60, 60, 0.5) and not chain.agrees(60, 61, 0.5)  # a count never gets a tolerance
    assert chain.agrees(0.1 + 0.2, 0.3, 1e-9) and not chain.agrees(10.0, 10.5, 1e-9)
    assert chain.agrees(10.0, 10.5, 0.05) and not chain.agrees(10.0, 10.5, 0.04)
    assert chain.agrees(Decimal("1.10"), 1.1, 1e-9)
    assert chain.agrees(None, None, 0.0) and not chain.agrees(None, 0, 0.0) and not chain.agrees(0.0, None, 1.0)
    assert chain.agrees(math.nan, math.nan, 0.0) and not chain.agrees(math.nan, 1.0, 1.0)
    assert chain.agrees("2026-11-27", "2026-11-27", 0.0) and not chain.agrees("a", "b", 1.0)


def test_mismatches_compare_a_bucket_missing_on_one_side_with_its_empty_value() -> None:
    below = {at(13): (61, 6.0, 1), at(14): (60, 6.0, 2)}
    above = {at(13): (60, 6.0, 1), at(15): (5, 0.5, None)}
    found, compared = chain.mismatches(below, above, ["count", "value", "low"], ["count", "sum", "min"], 1e-9)
    assert compared == 3
    assert found == [
        (at(13), "count 61 vs 60"),
        (at(14), "count 60 vs 0, value 6 vs 0, low 2 vs none"),
        (at(15), "count 0 vs 5, value 0 vs 0.5"),
    ]


def test_rollup_outcome_wording() -> None:
    options = rollup_options(levels=rollup_options().levels[:2])
    pairs = [Pair(0, Buckets(H), at(12), at(15))]
    raw = {at(12): (60, 1.5), at(13): (61, 1.5), at(14): (60, 1.5)}
    hourly = {at(12): (60, 1.5), at(13): (60, 1.5), at(14): (60, 1.5)}
    one = chain.judge(options, pairs, [raw, hourly], [])
    assert (one.status, one.output) == (Status.FAIL, "rollup raw->hourly mismatch at 2026-11-27 13:00: count 61 vs 60")
    values = {o.name: o.value for o in one.observed}
    assert (values["raw_hourly_buckets"], values["raw_hourly_mismatched_buckets"]) == (3, 1)
    raw[at(14)] = (59, 1.25)
    two = chain.judge(options, pairs, [raw, hourly], [])
    assert two.output == ("rollup raw->hourly mismatch in 2 of 3 buckets, first at 2026-11-27 13:00: count 61 vs 60")
    fine = chain.judge(options, pairs, [hourly, hourly], [])
    assert (fine.status, fine.output) == (
        Status.PASS,
        "raw->hourly agree on 3 buckets (closed buckets of the last 48h)",
    )
    empty = chain.judge(options, pairs, [{}, {}], [])
    assert (empty.status, empty.output) == (
        Status.WARN,
        "rollup raw->hourly: no rows in closed buckets of the last 48h",
    )
    outside = chain.judge(options, pairs, [{at(15): (1, 0.0)}, {at(11): (1, 0.0)}], [])  # outside [12:00, 15:00)
    assert outside.status is Status.WARN
