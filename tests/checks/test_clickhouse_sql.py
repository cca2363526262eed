"""The SQL the `clickhouse` checks send: safety settings on every query, quoted identifiers, index-friendly ranges,
buckets drawn in a time zone, and what the schema query tells about time columns and zones."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from app.checks.clickhouse import sql
from app.checks.clickhouse.buckets import Buckets
from app.checks.clickhouse.config import ClickHouseComponent
from app.checks.clickhouse.schema import SchemaMismatch, bucketing_zone, time_columns
from app.checks.clickhouse.sql import TableRef, TimeColumn

DAY = int(datetime(2026, 11, 27, tzinfo=UTC).timestamp())


def test_every_query_is_readonly_and_bounded_just_past_its_budget() -> None:
    component = ClickHouseComponent(type="clickhouse")
    assert sql.safety_settings(component, 0.7) == {
        "readonly": 1,
        "max_execution_time": 2,
        "max_result_rows": 100_000,
        "max_result_bytes": 16_777_216,
        "result_overflow_mode": "throw",
        "max_memory_usage": 2_000_000_000,
    }
    unlimited = ClickHouseComponent(type="clickhouse", max_memory_usage=0, max_result_rows=10, max_result_bytes=0)
    assert sql.safety_settings(unlimited, 19.9) == {
        "readonly": 1,
        "max_execution_time": 21,
        "max_result_rows": 10,
        "max_result_bytes": 0,
        "result_overflow_mode": "throw",
    }


def test_tables_and_time_columns_are_quoted_and_ranges_are_on_the_column_itself() -> None:
    ref = TableRef.parse("events", "analytics")
    assert (str(ref), ref.sql) == ("analytics.events", "`analytics`.`events`")
    assert TableRef.parse("other.events", "analytics").sql == "`other`.`events`"
    ts, day = TimeColumn("ts", is_date=False), TimeColumn("day", is_date=True)
    assert ts.between(DAY, DAY + 3600) == f"`ts` >= toDateTime({DAY}) AND `ts` < toDateTime({DAY + 3600})"
    assert day.between(DAY, DAY + 86400) == "`day` >= toDate('2026-11-27') AND `day` < toDate('2026-11-28')"
    assert (ts.seconds(), day.seconds()) == ("toUInt32(`ts`)", "(toUInt32(`day`) * 86400)")
    assert ts.literal(-5) == "toDateTime(0)"


def test_measures_and_keys_are_quoted() -> None:
    assert (sql.measure_sql("count()"), sql.measure_sql("sum(value)")) == ("count()", "sum(`value`)")
    ref, ts = TableRef("db", "events"), TimeColumn("ts", is_date=False)
    level = sql.level_query(ref, ts, Buckets(3600), ["count()", "max(value)"], DAY, DAY + 7200)
    assert level == (
        "SELECT intDiv(toUInt32(`ts`), 3600) * 3600 AS b, count(), max(`value`) FROM `db`.`events` "
        f"WHERE `ts` >= toDateTime({DAY}) AND `ts` < toDateTime({DAY + 7200}) GROUP BY b"
    )
    assert "argMax(concat(toString(`a`), ', ', toString(`b`)), c)" in sql.duplicates_query(
        ref, ts, "UTC", ["a", "b"], 0, 1
    )
    assert "GROUP BY `a` HAVING c > 1" in sql.duplicates_query(ref, ts, "UTC", ["a"], 0, 1)
    assert sql.schema_query([ref, TableRef("db", "o'x")]).endswith(
        "WHERE database IN ('db') AND table IN ('events', 'o\\'x')"
    )


def test_buckets_in_a_zone_are_the_servers_own_functions_in_that_zone() -> None:
    berlin, kolkata = ZoneInfo("Europe/Berlin"), ZoneInfo("Asia/Kolkata")
    ts, day = TimeColumn("ts", is_date=False), TimeColumn("day", is_date=True)
    assert ts.bucket(Buckets(3600, kolkata)) == "toUInt32(toStartOfHour(`ts`, 'Asia/Kolkata'))"
    assert ts.bucket(Buckets(86400, berlin)) == "toUInt32(toStartOfDay(`ts`, 'Europe/Berlin'))"
    assert ts.bucket(Buckets(900, kolkata)) == (
        "toUInt32(toStartOfDay(`ts`, 'Asia/Kolkata')) + "
        "intDiv(toUInt32(`ts`) - toUInt32(toStartOfDay(`ts`, 'Asia/Kolkata')), 900) * 900"
    )
    assert ts.bucket(Buckets(7 * 86400, berlin)) == (
        "toUInt32(toDateTime(toDate(intDiv(toRelativeDayNum(`ts`, 'Europe/Berlin'), 7) * 7), 'Europe/Berlin'))"
    )
    assert ts.bucket(Buckets(7 * 3600, berlin)) == "intDiv(toUInt32(`ts`), 25200) * 25200"  # not a day's divisor
    assert ts.bucket(Buckets(3600)) == "intDiv(toUInt32(`ts`), 3600) * 3600"  # UTC: plain arithmetic, as before
    # a Date is a local calendar day: its first instant in the zone, and range literals are local dates
    assert day.bucket(Buckets(86400, berlin)) == "toUInt32(toDateTime(`day`, 'Europe/Berlin'))"
    assert day.seconds("Asia/Kolkata") == "toUInt32(toDateTime(`day`, 'Asia/Kolkata'))"
    midnight_kolkata = DAY - 5 * 3600 - 1800  # 2026-11-27 00:00 in Asia/Kolkata
    assert day.between(midnight_kolkata, midnight_kolkata + 86400, "Asia/Kolkata") == (
        "`day` >= toDate('2026-11-27') AND `day` < toDate('2026-11-28')"
    )
    assert day.between(midnight_kolkata, midnight_kolkata + 86400) == (
        "`day` >= toDate('2026-11-26') AND `day` < toDate('2026-11-27')"
    )


def test_young_table_and_overlap_queries_are_small() -> None:
    ref, ts = TableRef("db", "events"), TimeColumn("ts", is_date=False)
    assert sql.history_query(ref, ts, "UTC", 946684800, DAY) == (
        "SELECT count() FROM (SELECT 1 FROM `db`.`events` "
        f"WHERE `ts` >= toDateTime(946684800) AND `ts` < toDateTime({DAY}) LIMIT 1)"
    )
    assert sql.running_query(["vigil:ch:b:x:2", "vigil:ch:b:x:1"]) == (
        "SELECT query_id, elapsed FROM system.processes WHERE query_id IN ('vigil:ch:b:x:1', 'vigil:ch:b:x:2')"
    )
    assert sql.schema_query([ref]).startswith("SELECT toUInt32(now()), timezone(), database, table, name, type ")


def test_time_columns_carry_their_declared_zone_and_the_check_picks_its_zone() -> None:
    ref = TableRef("db", "t")
    rows = [
        ("db", "t", "a", "DateTime"),
        ("db", "t", "b", "DateTime('Asia/Kolkata')"),
        ("db", "t", "c", "Nullable(DateTime(\\'America/New_York\\'))"),  # as TSV output escapes it
        ("db", "t", "d", "Date"),
        ("db", "t", "e", "DateTime('Mars/Olympus')"),
    ]
    wanted = [(ref, name, ()) for name in "abcde"]
    columns = [time_columns(rows, wanted)[(ref, name)] for name in "abcde"]
    assert [(c.is_date, c.declared) for c in columns] == [
        (False, None),
        (False, "Asia/Kolkata"),
        (False, "America/New_York"),
        (True, None),
        (False, "Mars/Olympus"),
    ]
    a, b, c, d, e = columns
    assert bucketing_zone(None, [a, d], "Europe/Berlin").key == "Europe/Berlin"  # the server's
    assert bucketing_zone(None, [a, b, c], "Europe/Berlin").key == "Asia/Kolkata"  # the first declared
    assert bucketing_zone("UTC", [b], "Europe/Berlin").key == "UTC"  # the check's own option wins
    with pytest.raises(SchemaMismatch, match="the zone of column e, 'Mars/Olympus', is not in Vigil's time zone"):
        bucketing_zone(None, [e], "UTC")
