"""The `clickhouse` checks' pure judgement (judge, window, chain): numbers in, findings and outputs out, no server.

The edge cases: no time left before the deadline, one-bucket and empty windows, None values, tolerance, wording.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from app.checks.clickhouse import chain, judge, window
from app.checks.clickhouse.chain import Pair
from app.checks.clickhouse.config import ClickHouseQueryPerformance, ClickHouseRollup, ClickHouseTimeseries
from app.checks.clickhouse.judge import Budget, QueryRun
from app.checks.clickhouse.window import Duplicates, Window, WindowStats
from app.model import Observation, Status

DAY = int(datetime(2026, 11, 27, tzinfo=UTC).timestamp())  # a midnight, UTC
H = 3600


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


def test_query_within_sla_passes_near_it_warns_above_it_fails() -> None:
    assert judge.query_finding("a", 1.0, 0.8, QueryRun(elapsed=0.5)) == (Status.PASS, "")
    assert judge.query_finding("a", 1.0, 0.8, QueryRun(elapsed=0.8)) == (Status.PASS, "")  # at the fraction: fine
    assert judge.query_finding("a", 1.0, 0.8, QueryRun(elapsed=0.85)) == (
        Status.WARN,
        "query a took 850 ms, 85% of its 1 s SLA",
    )
    assert judge.query_finding("a", 1.0, 0.8, QueryRun(elapsed=1.0)) == (
        Status.WARN,
        "query a took 1 s, 100% of its 1 s SLA",
    )
    assert judge.query_finding("a", 0.01, 0.8, QueryRun(elapsed=1.26)) == (
        Status.FAIL,
        "query a took 1.26 s, SLA 10 ms",
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
        "query late not run: no time left before the check's deadline; query slow took 900 ms, 90% of its 1 s SLA"
    )
    assert outcome.observed == tuple(observed)
    one = judge.query_performance(perf(), {"a": QueryRun(elapsed=0.0031)}, [])
    assert (one.status, one.output) == (Status.PASS, "1 query within SLA: a 3.1 ms of 5 s")
    two = judge.query_performance(
        perf(a="SELECT 1", b="SELECT 2"), {"a": QueryRun(elapsed=0.2), "b": QueryRun(elapsed=1.5)}, []
    )
    assert two.output == "2 queries within SLA: a 200 ms of 5 s, b 1.5 s of 5 s"


def test_connectivity_wording() -> None:
    ok = judge.connectivity((1, "18.16.1", 3600), 0.00123, None)
    assert (ok.status, ok.output) == (Status.PASS, "SELECT 1 in 1.23 ms from ClickHouse 18.16.1")
    assert {o.name: o.value for o in ok.observed} == {"latency": 0.00123, "server_version": "18.16.1", "uptime": 3600}
    slow = judge.connectivity((1, "18.16.1", 3600), 0.25, 0.1)
    assert (slow.status, slow.output) == (Status.WARN, "SELECT 1 took 250 ms (budget 100 ms)")
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


def stats(rows: int = 1380, newest: int = at(16, 4), future: int = 0, past: int = 0) -> WindowStats:
    return WindowStats(future, at(40) if future else 0, past, 0 if past else 0, rows, newest)


def outcome(
    options: ClickHouseTimeseries, s: WindowStats, counts: dict[int, int] | None = None, dups: Duplicates | None = None
) -> Any:
    w = Window.at(at(16, 5), options)
    if counts is None and options.min_bucket_rows:
        counts = {b: 60 for b in w.buckets()}
    if dups is None and options.keys:
        dups = Duplicates(0, 0, 0, "")
    return window.judge(options, w, s, counts, dups, [Observation("stats_latency", 0.01, "s")])


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
    assert pairs == [Pair(0, H, at(15) - 48 * H, at(15)), Pair(1, 24 * H, at(-48), DAY)]
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
    rolled = chain.roll_up(rows, ["count", "sum", "min", "max"], H, at(13), at(15))
    assert rolled == {at(13): (2, 0.75, 3, 9), at(14): (2, None, None, None)}
    assert chain.roll_up(rows, ["count", "sum", "min", "max"], H, at(14), at(15)) == {at(14): (2, None, None, None)}
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
    pairs = [Pair(0, H, at(12), at(15))]
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
