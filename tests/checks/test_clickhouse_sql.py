"""The SQL the `clickhouse` checks send: safety settings on every query, quoted identifiers, index-friendly ranges."""

from __future__ import annotations

from datetime import UTC, datetime

from app.checks.clickhouse import sql
from app.checks.clickhouse.config import ClickHouseComponent
from app.checks.clickhouse.sql import TableRef, TimeColumn

DAY = int(datetime(2026, 11, 27, tzinfo=UTC).timestamp())


def test_every_query_is_readonly_and_bounded_just_past_its_budget() -> None:
    component = ClickHouseComponent(type="clickhouse")
    assert sql.safety_settings(component, 0.7) == {
        "readonly": 1,
        "max_execution_time": 2,
        "max_result_rows": 100_000,
        "max_memory_usage": 2_000_000_000,
    }
    unlimited = ClickHouseComponent(type="clickhouse", max_memory_usage=0, max_result_rows=10)
    assert sql.safety_settings(unlimited, 19.9) == {"readonly": 1, "max_execution_time": 21, "max_result_rows": 10}


def test_tables_and_time_columns_are_quoted_and_ranges_are_on_the_column_itself() -> None:
    ref = TableRef.parse("events", "analytics")
    assert (str(ref), ref.sql) == ("analytics.events", "`analytics`.`events`")
    assert TableRef.parse("other.events", "analytics").sql == "`other`.`events`"
    ts, day = TimeColumn("ts", is_date=False), TimeColumn("day", is_date=True)
    assert ts.between(DAY, DAY + 3600) == f"`ts` >= toDateTime({DAY}) AND `ts` < toDateTime({DAY + 3600})"
    assert day.between(DAY, DAY + 86400) == "`day` >= toDate('2026-11-27') AND `day` < toDate('2026-11-28')"
    assert (ts.seconds, day.seconds) == ("toUInt32(`ts`)", "(toUInt32(`day`) * 86400)")
    assert ts.literal(-5) == "toDateTime(0)"


def test_measures_and_keys_are_quoted() -> None:
    assert (sql.measure_sql("count()"), sql.measure_sql("sum(value)")) == ("count()", "sum(`value`)")
    ref, ts = TableRef("db", "events"), TimeColumn("ts", is_date=False)
    level = sql.level_query(ref, ts, 3600, ["count()", "max(value)"], DAY, DAY + 7200)
    assert level == (
        "SELECT intDiv(toUInt32(`ts`), 3600) * 3600 AS b, count(), max(`value`) FROM `db`.`events` "
        f"WHERE `ts` >= toDateTime({DAY}) AND `ts` < toDateTime({DAY + 7200}) GROUP BY b"
    )
    assert "argMax(concat(toString(`a`), ', ', toString(`b`)), c)" in sql.duplicates_query(ref, ts, ["a", "b"], 0, 1)
    assert "GROUP BY `a` HAVING c > 1" in sql.duplicates_query(ref, ts, ["a"], 0, 1)
    assert sql.schema_query([ref, TableRef("db", "o'x")]).endswith(
        "WHERE database IN ('db') AND table IN ('events', 'o\\'x')"
    )
