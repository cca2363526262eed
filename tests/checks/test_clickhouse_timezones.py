"""The `clickhouse` checks on servers whose time zone is not UTC: Europe/Berlin (whole hours, with DST changes) and
Asia/Kolkata (a half-hour offset), and on the shared UTC server with a column that declares its own zone.

The chains are built the way users build them, on that server: an hourly materialized view with `toStartOfHour(ts)`
and a daily table with `toDate(hour)`, both in the server's zone. Young tables are here too.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.checks.clickhouse.buckets import Buckets
from app.checks.clickhouse.sql import TimeColumn
from app.model import CheckResult, Status
from devenv.servers import ClickHouseServer, create_event_tables, fill_daily
from tests.checks.test_clickhouse import observed, rollup, run

H = 3600
DAY = 86400


class ZonedClickHouse(ClickHouseServer):
    """A private clickhouse-server in time zone `zone`: the `<timezone>` element of its config.xml (TZ in its
    environment works too on 18.16; the config is what a deployment would set)."""

    def __init__(self, zone: str) -> None:
        self.zone = zone
        super().__init__()

    def _write_config(self) -> None:
        super()._write_config()
        path = self.dir / "config.xml"
        text = re.sub(r"<!--\s*<timezone>.*?</timezone>\s*-->|<timezone>.*?</timezone>", "", path.read_text())
        path.write_text(text.replace("</yandex>", f"    <timezone>{self.zone}</timezone>\n</yandex>"))


def zoned(zone: str) -> Iterator[ZonedClickHouse]:
    server = ZonedClickHouse(zone).start()
    try:
        assert server.query("SELECT timezone()").strip() == zone
        yield server
    finally:
        server.cleanup()


@pytest.fixture(scope="module")
def berlin() -> Iterator[ZonedClickHouse]:
    yield from zoned("Europe/Berlin")


@pytest.fixture(scope="module")
def kolkata() -> Iterator[ZonedClickHouse]:
    yield from zoned("Asia/Kolkata")


@pytest.fixture(params=["berlin", "kolkata"])
def server(request: pytest.FixtureRequest) -> ZonedClickHouse:
    value: ZonedClickHouse = request.getfixturevalue(request.param)
    return value


def fill(server: ClickHouseServer, db: str, start: int, end: int, step: int, table: str = "events") -> int:
    """Rows every `step` seconds in [start, end) into the events table (event_id = the row's instant); how many."""
    count = (end - start + step - 1) // step
    server.query(
        f"INSERT INTO {db}.{table} SELECT toDateTime({start} + number * {step}), {start} + number * {step}, "
        f"number % 7, number * 0.5 FROM numbers({count})"
    )
    return count


def chain(server: ClickHouseServer, start: int, end: int, step: int = 60) -> str:
    """A fresh database with the events chain built on `server`, in its own zone: raw rows every `step` seconds
    in [start, end), the hourly view (`toStartOfHour(ts)`), the daily table (`toDate(hour)`)."""
    db = f"vigil_{uuid.uuid4().hex[:10]}"
    create_event_tables(server, db)
    fill(server, db, start, end, step)
    fill_daily(server, db)
    return db


def now_of(server: ClickHouseServer) -> int:
    return int(server.query("SELECT toUInt32(now())"))


def last_dst_change(zone: ZoneInfo, before: int) -> int:
    """The most recent instant before `before` at which `zone`'s UTC offset changed (Europe/Berlin: within 7 months)."""
    offset = datetime.fromtimestamp(before, zone).utcoffset()
    t = before // H * H
    while datetime.fromtimestamp(t - 1, zone).utcoffset() == offset:
        t -= H
    return t


# -- the server's buckets are Vigil's buckets ---------------------------------------------------------


def test_bucket_sql_and_vigils_buckets_agree_with_the_servers_own_functions(server: ZonedClickHouse) -> None:
    """Instants every 7 minutes over both 2026 DST changes (and a week around them) bucketed by the server, with
    the SQL the checks send, with the server's plain toStartOfHour/toDate (in its own zone), and by Vigil."""
    db = f"vigil_{uuid.uuid4().hex[:10]}"
    server.query(f"CREATE DATABASE {db}")
    server.query(
        f"CREATE TABLE {db}.t (ts DateTime, kts DateTime('Asia/Kolkata'), ny DateTime('America/New_York'), day Date) "
        "ENGINE = Memory"
    )
    for start in (1774569600, 1792713600):  # 2026-03-27 and 2026-10-23, 00:00 UTC
        server.query(
            f"INSERT INTO {db}.t SELECT toDateTime(t), toDateTime(t), toDateTime(t), toDate(toDateTime(t)) "
            f"FROM (SELECT {start} + number * 420 AS t FROM numbers({5 * DAY // 420}))"
        )
    try:
        local = ZoneInfo(server.zone)
        columns = [
            ("ts", TimeColumn("ts", False), local),
            ("kts", TimeColumn("kts", False, "Asia/Kolkata"), ZoneInfo("Asia/Kolkata")),
            ("ny", TimeColumn("ny", False, "America/New_York"), ZoneInfo("America/New_York")),
        ]
        sizes = [900, H, 2 * H, 6 * H, DAY, 7 * DAY]
        selects = [tc.bucket(Buckets(size, tz)) for _, tc, tz in columns for size in sizes]
        own = ["toUInt32(toStartOfHour(ts))", "toUInt32(toDateTime(toDate(ts)))", "toUInt32(toDateTime(day))"]
        text = server.query(f"SELECT toUInt32(ts), {', '.join(selects + own)} FROM {db}.t")
        rows = [list(map(int, line.split("\t"))) for line in text.splitlines()]
        assert len(rows) == 2 * (5 * DAY // 420)
        grids = [Buckets(size, tz) for _, _, tz in columns for size in sizes]
        grids += [Buckets(H, local), Buckets(DAY, local), Buckets(DAY, local)]
        for t, *found in rows:
            assert found == [grid.floor(t) for grid in grids], datetime.fromtimestamp(t, local)
        # and the Date column, bucketed as a local calendar day
        day = TimeColumn("day", True)
        dates = server.query(f"SELECT DISTINCT toString(day), {day.bucket(Buckets(DAY, local))} FROM {db}.t")
        for line in dates.splitlines():
            text_day, start = line.split("\t")
            assert datetime.fromtimestamp(int(start), local).strftime("%Y-%m-%d %H:%M:%S") == f"{text_day} 00:00:00"
    finally:
        server.query(f"DROP DATABASE IF EXISTS {db}")


# -- rollup chains built on the server ----------------------------------------------------------------


async def run_rollup(server: ClickHouseServer, db: str, **options: Any) -> CheckResult:
    return await run(server, "roll", rollup(db, **options))


async def test_a_consistent_chain_passes_in_the_servers_zone_and_utc_buckets_would_break_it(
    server: ZonedClickHouse,
) -> None:
    now = now_of(server)
    db = chain(server, now - 50 * H, now)
    try:
        result = await run_rollup(server, db)
        assert result.status is Status.PASS, result.output
        values = observed(result)
        assert (values["raw_hourly_buckets"], values["raw_hourly_mismatched_buckets"]) == (48, 0)
        assert values["hourly_daily_buckets"] in (2, 3) and values["hourly_daily_mismatched_buckets"] == 0
        # what Vigil did before it knew zones: UTC buckets, which this chain does not have
        utc = await run_rollup(server, db, timezone="UTC")
        assert utc.status is Status.FAIL
        if server.zone == "Asia/Kolkata":  # every hour starts at half past, in UTC
            assert re.match(r"rollup raw->hourly mismatch in (\d+) of \1 buckets, first at ", utc.output), utc.output
        else:  # whole hours agree; every day ends an hour early
            assert "hourly->daily mismatch in " in utc.output and "raw->hourly" not in utc.output
    finally:
        server.query(f"DROP DATABASE IF EXISTS {db}")


async def test_a_broken_chain_names_the_bucket_in_the_servers_zone(server: ZonedClickHouse) -> None:
    now = now_of(server)
    local = ZoneInfo(server.zone)
    db = chain(server, now - 50 * H, now)
    try:
        hours, days = Buckets(H, local), Buckets(DAY, local)
        hour = hours.floor(now - 5 * H)
        server.query(f"DETACH TABLE {db}.events_hourly")  # a late row the hourly view never sees
        server.query(f"INSERT INTO {db}.events VALUES (toDateTime({hour + 30}), 1, 1, 0)")
        server.query(f"ATTACH TABLE {db}.events_hourly")
        day = days.floor(days.floor(now - 60) - 1)  # yesterday, local: a closed day
        server.query(
            f"INSERT INTO {db}.events_daily VALUES (toDate('{datetime.fromtimestamp(day, local):%Y-%m-%d}'), 1, 0)"
        )
        result = await run_rollup(server, db, tolerance=0.01)
        hourly_label = datetime.fromtimestamp(hour, local).strftime("%Y-%m-%d %H:%M")
        daily = int(
            server.query(f"SELECT sum(events) FROM {db}.events_hourly WHERE toDate(hour) = toDate(toDateTime({day}))")
        )
        assert result.output == (
            f"rollup raw->hourly mismatch at {hourly_label} {server.zone}: count 61 vs 60; "
            f"rollup hourly->daily mismatch at {datetime.fromtimestamp(day, local):%Y-%m-%d} {server.zone}: "
            f"count {daily} vs {daily + 1}"
        )
        if server.zone == "Asia/Kolkata":
            assert hourly_label.endswith(":00") and hour % H == 1800  # a local hour starts at half past, UTC
    finally:
        server.query(f"DROP DATABASE IF EXISTS {db}")


async def test_a_day_across_a_dst_change_has_its_25_or_23_hours(berlin: ZonedClickHouse) -> None:
    """The window is placed over Berlin's most recent DST change (within about 7 months of any date) through the
    check's lookback; rows every 10 minutes from the day before that change until now."""
    local = ZoneInfo("Europe/Berlin")
    now = now_of(berlin)
    change = last_dst_change(local, now)
    days = Buckets(DAY, local)
    dst_day = days.floor(change)
    hours_that_day = (days.next(dst_day) - dst_day) // H
    assert hours_that_day in (23, 25)
    lookback = ((now - dst_day) // DAY + 3) * DAY  # from two days before the change's day
    db = chain(berlin, dst_day - DAY, now, step=600)
    try:
        result = await run_rollup(berlin, db, lookback=lookback)
        assert result.status is Status.PASS, result.output
        label = f"{datetime.fromtimestamp(dst_day, local):%Y-%m-%d}"
        rows_that_day = hours_that_day * 6
        assert int(berlin.query(f"SELECT sum(events) FROM {db}.events_daily WHERE day = toDate('{label}')")) == (
            rows_that_day
        )
        berlin.query(f"INSERT INTO {db}.events_daily VALUES (toDate('{label}'), 1, 0)")
        broken = await run_rollup(berlin, db, lookback=lookback, tolerance=0.01)
        assert broken.output == (
            f"rollup hourly->daily mismatch at {label} Europe/Berlin: count {rows_that_day} vs {rows_that_day + 1}"
        )

        # the timeseries check on the same days, 1h buckets, with the first hour of that day (02:00 twice in
        # autumn, 00:00 in spring) missing: named in local time (with its offset where the hour repeats)
        hole = dst_day + 2 * H if hours_that_day == 25 else dst_day
        berlin.query(f"CREATE TABLE {db}.holed AS {db}.events")
        berlin.query(
            f"INSERT INTO {db}.holed SELECT * FROM {db}.events WHERE NOT (ts >= toDateTime({hole}) "
            f"AND ts < toDateTime({hole + H}))"
        )
        options = {"kind": "timeseries", "table": f"{db}.holed", "time_column": "ts", "lookback": lookback}
        gap = await run(berlin, "ts", options)
        first = Buckets(H, local).label(hole)
        since = r"since the table's first row \d+\.\d d ago"  # a young table: its first row is the day before
        assert re.fullmatch(f"1 gap {since} \\(1h buckets with no rows\\), first at {re.escape(first)}", gap.output), (
            gap.output
        )
        if hours_that_day == 25:
            assert first == f"{label} 02:00 Europe/Berlin (UTC+02:00)"
        daily = await run(berlin, "ts", {**options, "table": f"{db}.events", "bucket": "1d"})
        assert daily.status is Status.PASS, daily.output  # a young table: the days before its first row are no gaps
        assert "(table younger than that: first row " in daily.output
    finally:
        berlin.query(f"DROP DATABASE IF EXISTS {db}")


async def test_a_columns_own_zone_wins_over_the_servers_and_the_option_over_both(
    clickhouse_server: ClickHouseServer, berlin: ZonedClickHouse
) -> None:
    """On the UTC server, a raw column declared DateTime('Asia/Kolkata'): its view's toStartOfHour and toDate run in
    Kolkata time, and so do the check's buckets. On the Berlin server, a daily table built with toDate(ts,
    'Asia/Kolkata') is only consistent under `timezone: Asia/Kolkata`."""
    now = now_of(clickhouse_server)
    db = f"vigil_{uuid.uuid4().hex[:10]}"
    q = clickhouse_server.query
    q(f"CREATE DATABASE {db}")
    q(
        f"CREATE TABLE {db}.events (ts DateTime('Asia/Kolkata'), event_id UInt64, user_id UInt32, value Float64) "
        "ENGINE = MergeTree PARTITION BY toYYYYMMDD(ts) ORDER BY (ts, event_id)"
    )
    q(
        f"CREATE MATERIALIZED VIEW {db}.events_hourly ENGINE = SummingMergeTree() ORDER BY hour AS SELECT "
        f"toStartOfHour(ts) AS hour, count() AS events, sum(value) AS value FROM {db}.events GROUP BY hour"
    )
    q(
        f"CREATE TABLE {db}.events_daily (day Date, events UInt64, value Float64) ENGINE = SummingMergeTree() ORDER BY day"
    )
    other = f"vigil_{uuid.uuid4().hex[:10]}"
    try:
        fill(clickhouse_server, db, now - 50 * H, now, 60)
        fill_daily(clickhouse_server, db)
        own = await run_rollup(clickhouse_server, db)
        assert own.status is Status.PASS, own.output
        assert observed(own)["raw_hourly_buckets"] == 48

        b = now_of(berlin)
        create_event_tables(berlin, other)
        fill(berlin, other, b - 50 * H, b, 60)
        berlin.query(  # a daily rollup of the raw rows by Kolkata's calendar days
            f"INSERT INTO {other}.events_daily SELECT toDate(ts, 'Asia/Kolkata'), count(), sum(value) "
            f"FROM {other}.events GROUP BY toDate(ts, 'Asia/Kolkata')"
        )
        levels = rollup(other)["levels"]
        daily_only = [levels[0], levels[2]]
        assert (await run(berlin, "roll", rollup(other, levels=daily_only))).status is Status.FAIL
        kolkata_days = await run(berlin, "roll", rollup(other, levels=daily_only, timezone="Asia/Kolkata"))
        assert kolkata_days.status is Status.PASS, kolkata_days.output
    finally:
        q(f"DROP DATABASE IF EXISTS {db}")
        berlin.query(f"DROP DATABASE IF EXISTS {other}")


# -- young tables -----------------------------------------------------------------------------------


async def test_a_young_table_has_no_gaps_before_its_first_row(kolkata: ZonedClickHouse) -> None:
    now = now_of(kolkata)
    db = chain(kolkata, now - 5 * H - 1200, now)
    options = {"kind": "timeseries", "table": f"{db}.events", "time_column": "ts", "keys": ["event_id"]}
    try:
        young = await run(kolkata, "ts", options)
        assert young.status is Status.PASS, young.output
        assert re.fullmatch(
            r"\d+ rows in the last 24h \(table younger than that: first row 5\.\d h old\), newest \d+ s old; "
            r"no gaps, future, pre-2000-01-01 or duplicate rows",
            young.output,
        ), young.output
        values = observed(young)
        assert values["gaps"] == 0 and 5 * H + 1200 <= values["table_age"] < 5 * H + 1320
        assert values["history_read_rows"] == 0  # it looked: nothing before the window

        # a hole after its first row is still a gap, counted from there
        hours = Buckets(H, ZoneInfo("Asia/Kolkata"))
        hole = hours.floor(now - 2 * H)
        kolkata.query(f"ALTER TABLE {db}.events DELETE WHERE ts >= toDateTime({hole}) AND ts < toDateTime({hole + H})")
        holed = await wait_for_mutation(kolkata, db, lambda: run(kolkata, "ts", options))
        assert holed.output == (
            f"1 gap since the table's first row 5.3 h ago (1h buckets with no rows), first at {hours.label(hole)}"
        )

        # one row three days old: the table is not young, the hours before the recent rows are gaps after all
        kolkata.query(f"INSERT INTO {db}.events VALUES (toDateTime({now - 3 * DAY}), 0, 0, 0)")
        older = await run(kolkata, "ts", options)
        assert older.status is Status.FAIL
        # every hour of the window before the first row (17 or 18 of its 23), and the hole
        match = re.fullmatch(r"(\d+) gaps in the last 24h \(1h buckets with no rows\), first at (.+)", older.output)
        assert match and int(match.group(1)) == observed(older)["gaps"] in (18, 19), older.output
        assert match.group(2) == hours.label(hours.ceil(now_of(kolkata) - DAY)), older.output
    finally:
        kolkata.query(f"DROP DATABASE IF EXISTS {db}")


async def wait_for_mutation(server: ClickHouseServer, db: str, then: Any) -> CheckResult:
    """Run `then` once the table's ALTER ... DELETE has been applied (polled, bounded)."""
    started = time.monotonic()
    while int(server.query(f"SELECT count() FROM system.mutations WHERE database = '{db}' AND is_done = 0")):
        assert time.monotonic() - started < 10, "mutation not done"
        await asyncio.sleep(0.05)
    result: CheckResult = await then()
    return result
