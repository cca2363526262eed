"""The `clickhouse` checks (connectivity, query_performance, timeseries, rollup) against a real clickhouse-server.

Each test seeds its own database: a raw MergeTree events table (one row a minute), an hourly SummingMergeTree
materialized view over it, and a daily SummingMergeTree table built from the hourly one; faults are injected
with plain SQL over the server's HTTP interface.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
import tracemalloc
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from app.checks.base import CheckContext
from app.checks.clickhouse.config import ClickHouseQueryPerformance
from app.clients.named_tls import NamedContext
from app.config.settings import Settings
from app.model import CheckId, CheckResult, Status
from app.units import bucket_start as fmt_bucket
from app.units import timestamp as fmt_time
from devenv.servers import (
    ClickHouseServer,
    create_event_tables,
    event_rollup_levels,
    fill_daily,
    free_port,
    self_signed_certificate,
)
from tests.conftest import (
    HttpTarget,
    check_runner,
    clickhouse_component,
    http,
    make_settings,
    observed,
    run_check,
    within,
)

ROWS = 50 * 60  # 50 hours of one row a minute, ending at the current minute
ENDLESS = "SELECT count() FROM system.numbers WHERE sipHash64(number) = 0"  # filters before any LIMIT: never ends
HEAVY = "SELECT sum(sipHash64(number)) FROM (SELECT number FROM system.numbers LIMIT 20000000)"


@dataclass
class Seeded:
    server: ClickHouseServer
    db: str
    now: int  # the server's clock when the data was seeded

    def q(self, sql: str) -> str:
        return self.server.query(sql)

    def count(self, table: str) -> int:
        return int(self.q(f"SELECT count() FROM {self.db}.{table}"))


def seed(server: ClickHouseServer, *, skip_hour: int | None = None, end_offset: int = 0) -> Seeded:
    """Create and fill a fresh database; `skip_hour` (epoch of an hour) leaves that hour out of the raw table."""
    db = f"vigil_{uuid.uuid4().hex[:10]}"
    now = int(server.query("SELECT toUInt32(now())"))
    last = (now - end_offset) // 60 * 60
    create_event_tables(server, db)
    where = f"WHERE intDiv({last} - ({ROWS - 1} - number) * 60, 3600) * 3600 != {skip_hour}" if skip_hour else ""
    server.query(
        f"INSERT INTO {db}.events SELECT toDateTime({last} - ({ROWS - 1} - number) * 60), number, number % 7, "
        f"number * 0.1 FROM numbers({ROWS}) {where}"
    )
    fill_daily(server, db)
    return Seeded(server, db, now)


@pytest.fixture
def seeded(clickhouse_server: ClickHouseServer) -> Iterator[Seeded]:
    data = seed(clickhouse_server)
    yield data
    clickhouse_server.query(f"DROP DATABASE IF EXISTS {data.db}")


def component(server: ClickHouseServer, checks: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "type": "clickhouse",
        "port": server.tcp_port,
        "connect_timeout": 0.5,
        "socket_timeout": 1.0,
        "checks": checks,
        **extra,
    }


def settings(server: ClickHouseServer, checks: dict[str, Any], timeout: float = 5, **extra: Any) -> Settings:
    return make_settings(
        defaults={"interval": 30, "timeout": timeout}, components={"ch": component(server, checks, **extra)}
    )


async def run(server: ClickHouseServer, name: str, options: dict[str, Any], timeout: float = 5) -> CheckResult:
    return await run_check(settings(server, {name: options}, timeout), "ch", name)


def timeseries(db: str, **options: Any) -> dict[str, Any]:
    return {"kind": "timeseries", "table": f"{db}.events", "time_column": "ts", "keys": ["event_id"], **options}


async def processes(server: ClickHouseServer, like: str) -> list[str]:
    text = await asyncio.to_thread(server.query, f"SELECT query_id FROM system.processes WHERE query_id LIKE '{like}'")
    return text.split()


async def checked_queries(server: ClickHouseServer) -> list[str]:
    """The perf check's own queries running on the server, without its look at system.processes: the server may
    list that one a moment after it answered."""
    return [q for q in await processes(server, "vigil:ch:perf:%") if ":previous:" not in q]


async def appears(server: ClickHouseServer, like: str, timeout: float = within(1.0)) -> bool:
    """Whether one query like `like` shows in system.processes within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(await processes(server, like)) == 1:
            return True
        await asyncio.sleep(0.02)
    return False


# -- connectivity -----------------------------------------------------------------------------------


async def test_connectivity_pass_and_fail(clickhouse_server: ClickHouseServer) -> None:
    result = await run(clickhouse_server, "connectivity", {})
    assert result.status is Status.PASS
    assert result.output.startswith("SELECT 1 in ") and result.output.endswith(" ms from ClickHouse 18.16.1")
    values = observed(result)
    assert values["server_version"] == "18.16.1"
    assert 0 < values["latency"] <= result.duration and values["uptime"] >= 0

    port = free_port()
    nothing = make_settings(
        defaults={"interval": 30, "timeout": 2},
        components={"ch": clickhouse_component(port, connect_timeout=0.5, socket_timeout=1.0)},
    )
    down = await run_check(nothing, "ch", "connectivity")
    assert down.status is Status.FAIL
    assert down.output == f"cannot reach ClickHouse at 127.0.0.1:{port}: connection refused" and down.duration < 2


# -- query_performance ------------------------------------------------------------------------------


async def test_queries_within_sla_report_latency_and_rows_read(seeded: Seeded) -> None:
    queries = {
        "count_all": f"SELECT count() FROM {seeded.db}.events",
        "by_user": {"sql": f"SELECT user_id, count(), sum(value) FROM {seeded.db}.events GROUP BY user_id;", "sla": 2},
    }
    result = await run(seeded.server, "perf", {"kind": "query_performance", "queries": queries})
    assert result.status is Status.PASS, result.output
    assert result.output.startswith("2 queries within SLA: count_all ")
    assert " of 5 s, by_user " in result.output and result.output.endswith(" of 2 s")
    values = observed(result)
    assert values["count_all_read_rows"] == ROWS and values["by_user_read_rows"] == ROWS
    assert values["count_all_read_bytes"] == 4 * ROWS  # count() reads the smallest column (ts, 4 bytes)
    assert values["by_user_read_bytes"] == 12 * ROWS  # user_id UInt32 + value Float64
    assert 0 < values["count_all_latency"] <= result.duration
    units = {o.name: o.unit for o in result.observed}
    assert (units["by_user_latency"], units["by_user_read_rows"], units["by_user_read_bytes"]) == ("s", "rows", "bytes")


async def test_query_slower_than_sla_fails_and_near_sla_warns(clickhouse_server: ClickHouseServer) -> None:
    slow = await run(
        clickhouse_server, "perf", {"kind": "query_performance", "queries": {"heavy": {"sql": HEAVY, "sla": "10ms"}}}
    )
    assert slow.status is Status.FAIL
    values = observed(slow)
    assert values["heavy_latency"] > 0.01
    assert values["heavy_read_rows"] >= 20_000_000 and values["heavy_read_bytes"] >= 8 * 20_000_000
    took = (
        f"{values['heavy_latency'] * 1000:.3g} ms"
        if values["heavy_latency"] < 1
        else f"{values['heavy_latency']:.3g} s"
    )
    assert slow.output == f"query heavy took {took}, at or above the 10 ms SLA"

    near = await run(
        clickhouse_server,
        "perf",
        {"kind": "query_performance", "warn_fraction": 0.001, "queries": {"heavy": {"sql": HEAVY, "sla": 10}}},
        timeout=12,
    )
    assert near.status is Status.WARN
    assert near.output.startswith("query heavy took ") and near.output.endswith(" warn threshold of its 10 s SLA")


async def test_writes_are_refused_under_readonly(seeded: Seeded) -> None:
    queries = {
        "insert": f"INSERT INTO {seeded.db}.events SELECT * FROM {seeded.db}.events LIMIT 1",
        "drop": f"DROP TABLE {seeded.db}.events",
        "fine": f"SELECT count() FROM {seeded.db}.events",
    }
    result = await run(seeded.server, "perf", {"kind": "query_performance", "queries": queries})
    assert result.status is Status.FAIL
    assert result.output == (
        "query insert refused by the server: Cannot insert into table in readonly mode (code 164); "
        "query drop refused by the server: Cannot drop table in readonly mode (code 164)"
    )
    assert seeded.count("events") == ROWS  # nothing was written, nothing dropped
    assert observed(result)["fine_read_rows"] == ROWS


async def test_table_functions_and_settings_overrides_are_refused(clickhouse_server: ClickHouseServer) -> None:
    queries = {
        "tablefn": "SELECT count() FROM numbers(10)",  # 18.16 refuses table functions (url, remote, ...) in readonly=1
        "unsafe": "SELECT 1 SETTINGS readonly = 0",
    }
    result = await run(clickhouse_server, "perf", {"kind": "query_performance", "queries": queries})
    assert result.status is Status.FAIL
    assert result.output == (
        "query tablefn refused by the server: Table functions are forbidden in readonly mode (code 164); "
        "query unsafe refused by the server: Cannot execute SET query in readonly mode (code 164)"
    )


async def test_query_past_its_timeout_is_cancelled_on_the_server(clickhouse_server: ClickHouseServer) -> None:
    like = "vigil:ch:perf:slow_one:%"
    options = {"kind": "query_performance", "queries": {"slow_one": {"sql": ENDLESS, "timeout": "700ms"}}}
    config = settings(clickhouse_server, {"perf": options}, timeout=10)
    async with check_runner(config) as scheduler:
        client = scheduler.clients["ch"]
        task = asyncio.get_running_loop().create_task(run_check(config, "ch", "perf", scheduler))
        assert await appears(clickhouse_server, like)  # it really runs on the server
        result = await task
        finished = time.monotonic()
        assert result.status is Status.FAIL
        assert result.output == "query slow_one cancelled at its 700 ms timeout, SLA 5 s"
        assert 0.7 <= result.duration < within(0.7)
        assert 0.7 <= observed(result)["slow_one_latency"] < within(0.7)
        # The server's own limit would stop it at 2 s (ceil(0.7) + 1): gone sooner, Vigil's cancel stopped it.
        while await processes(clickhouse_server, like):
            assert time.monotonic() - finished < 2 - 0.7, "query still running on the server"
            await asyncio.sleep(0.05)
        assert client.in_use == 0
        again = await run_check(config, "ch", "perf", scheduler)  # the pool is usable: no half-read connection
        assert again.output == "query slow_one cancelled at its 700 ms timeout, SLA 5 s"


async def test_check_cancelled_mid_query_cancels_it_on_the_server(clickhouse_server: ClickHouseServer) -> None:
    """The scheduler cancelling a run (its deadline, or shutdown) stops the query server-side too."""
    like = "vigil:ch:perf:slow_two:%"
    config = settings(
        clickhouse_server, {"perf": {"kind": "query_performance", "queries": {"slow_two": ENDLESS}}}, timeout=20
    )
    async with check_runner(config) as scheduler:
        runner = scheduler.runners[CheckId("ch", "perf")]
        spec = runner.spec
        deadline = asyncio.get_running_loop().time() + spec.schedule.timeout
        context = CheckContext(
            spec.id, spec.component, spec.options, spec.schedule, runner.client, deadline, runner.memo
        )
        task = asyncio.ensure_future(spec.kind.run(context))  # the check itself, without the runner's own timeout
        assert await appears(clickhouse_server, like)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        cancelled = time.monotonic()
        while await processes(clickhouse_server, like):  # max_execution_time is 21 s here: only Vigil can stop it
            assert time.monotonic() - cancelled < 20, "query still running on the server"
            await asyncio.sleep(0.05)
        # remembered: the check's next query first looks whether this one is still running
        assert [label for label in runner.memo.interrupted.values()] == ["query slow_two"]


async def test_check_timeout_without_query_timeout_names_the_query(clickhouse_server: ClickHouseServer) -> None:
    like = "vigil:ch:perf:slow_three:%"
    options = {"kind": "query_performance", "queries": {"slow_three": {"sql": ENDLESS, "sla": 1}}}
    result = await run(clickhouse_server, "perf", options, timeout=1.5)
    assert result.status is Status.FAIL
    assert result.output.startswith("query slow_three cancelled at the check's deadline after 1.")
    assert result.output.endswith(", SLA 1 s")
    assert result.duration < within(1.5)
    started = time.monotonic()
    while await processes(clickhouse_server, like):  # the server's own limit is 3 s (ceil(1.4) + 1)
        assert time.monotonic() - started < 3 - 1.5, "query still running on the server"
        await asyncio.sleep(0.05)


async def test_a_check_starts_no_query_while_one_it_cut_off_still_runs_on_the_server(
    clickhouse_server: ClickHouseServer,
) -> None:
    """Defect 12: a query that ignores Cancel and KILL QUERY (sleep() is not interruptible; two of them run ~6 s)
    must not be joined by the check's next query, in the same run or the next one."""
    db = f"vigil_{uuid.uuid4().hex[:10]}"
    clickhouse_server.query(f"CREATE DATABASE {db}")
    clickhouse_server.query(f"CREATE TABLE {db}.stuck (x UInt8) ENGINE = Memory")
    clickhouse_server.query(f"INSERT INTO {db}.stuck VALUES (1)")
    factor = f"(SELECT toFloat64(count()) FROM {db}.stuck)"  # 1 while the table has its row, then 0: no sleep
    sleepy = f"SELECT sleep({factor} * 3) + sleep({factor} * 2.99) FROM system.one"
    queries = {"stuck": {"sql": sleepy, "timeout": "300ms"}, "after": f"SELECT count() FROM {db}.stuck"}
    config = settings(clickhouse_server, {"perf": {"kind": "query_performance", "queries": queries}}, timeout=5)
    still = re.compile(
        r"previous query stuck still running on the server after cancel \((\d\.\d+) s so far\); not starting another"
    )
    try:
        async with check_runner(config) as scheduler:
            runner = scheduler.runners[CheckId("ch", "perf")]
            first = await runner.run(scheduled=False)
            prefix, _, reason = first.output.partition("; query after not run: ")
            assert prefix == "query stuck cancelled at its 300 ms timeout, SLA 5 s", first.output
            assert still.fullmatch(reason), first.output
            assert "after_latency" not in observed(first)  # never started
            running = await checked_queries(clickhouse_server)
            assert len(running) == 1 and running == list(runner.memo.interrupted)

            second = await runner.run(scheduled=False)  # the next run: nothing starts, one sentence says why
            assert second.status is Status.FAIL
            match = still.fullmatch(second.output)
            assert match and float(match.group(1)) >= 1, second.output
            # It did not wait for the stuck query (half the check's 5 s), nor start another.
            assert second.duration < 5 / 2 and await checked_queries(clickhouse_server) == running

            ended = time.monotonic()
            while await checked_queries(clickhouse_server):  # only its sleeps end it (~6 s)
                assert time.monotonic() - ended < 10, "the stuck query never ended"
                await asyncio.sleep(0.1)
            clickhouse_server.query(f"TRUNCATE TABLE {db}.stuck")
            third = await runner.run(scheduled=False)  # gone from system.processes: the check runs again
            assert third.status is Status.PASS, third.output
            assert runner.memo.interrupted == {}
            fourth = await runner.run(scheduled=False)
            assert fourth.status is Status.PASS and runner.memo.interrupted == {}
    finally:
        clickhouse_server.query(f"DROP DATABASE IF EXISTS {db}")


async def test_kill_stops_a_query_that_ignores_cancel(clickhouse_server: ClickHouseServer) -> None:
    """The fallback when the Cancel packet is not acknowledged: KILL QUERY over a connection of its own."""
    query_id = f"vigil-test-{uuid.uuid4().hex[:8]}"
    url = f"http://127.0.0.1:{clickhouse_server.http_port}/?query_id={query_id}&max_execution_time=20"
    request = urllib.request.Request(url, data=ENDLESS.encode(), method="POST")

    def endless() -> str:
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return str(response.read().decode())
        except urllib.error.HTTPError as exc:
            return str(exc.read().decode())

    running = asyncio.get_running_loop().run_in_executor(None, endless)
    while not await processes(clickhouse_server, query_id):
        await asyncio.sleep(0.05)
    config = settings(clickhouse_server, {"connectivity": {}})
    async with check_runner(config) as scheduler:
        await scheduler.clients["ch"].kill(query_id)
        answer = await asyncio.wait_for(running, 20 / 2)  # well before its own 20 s limit would end it
    assert "Query was cancelled" in answer
    assert not await processes(clickhouse_server, query_id)


# -- timeseries -------------------------------------------------------------------------------------


async def test_timeseries_passes_on_consistent_data(seeded: Seeded) -> None:
    result = await run(seeded.server, "ts", timeseries(seeded.db))
    assert result.status is Status.PASS, result.output
    values = observed(result)
    assert values["window_rows"] in (1440, 1441)
    assert result.output.startswith(f"{values['window_rows']} rows in the last 24h, newest ")
    assert result.output.endswith(" old; no gaps, future, pre-2000-01-01 or duplicate rows")
    assert (values["future_rows"], values["past_rows"], values["gaps"], values["duplicate_rows"]) == (0, 0, 0, 0)
    assert 0 <= values["lag"] < 120
    for step in ("stats", "buckets", "duplicates"):
        assert 0 < values[f"{step}_read_rows"] <= ROWS and values[f"{step}_read_bytes"] > 0
        assert 0 < values[f"{step}_latency"] <= result.duration


async def test_future_and_1970_rows_fail_with_count_and_worst(seeded: Seeded) -> None:
    future = seeded.now + 400 * 86400
    seeded.q(
        f"INSERT INTO {seeded.db}.events SELECT toDateTime({future} - number * 3600), 900000 + number, 1, 0 "
        "FROM numbers(12)"
    )
    seeded.q(f"INSERT INTO {seeded.db}.events SELECT toDateTime(0), 800000 + number, 1, 0 FROM numbers(3)")
    result = await run(seeded.server, "ts", timeseries(seeded.db))
    assert result.status is Status.FAIL
    assert result.output == (
        f"12 rows dated in the future, worst {fmt_time(future)}; "
        "3 rows dated before 2000-01-01 00:00:00, earliest 1970-01-01 00:00:00"
    )
    values = observed(result)
    assert (values["future_rows"], values["past_rows"], values["gaps"]) == (12, 3, 0)


async def test_clock_skew_allowance_and_floor_are_configurable(seeded: Seeded) -> None:
    floor = (seeded.now - 30 * 86400) // 86400 * 86400
    old = seeded.now - 40 * 86400
    seeded.q(f"INSERT INTO {seeded.db}.events VALUES (toDateTime({seeded.now + 600}), 700000, 1, 0)")
    seeded.q(f"INSERT INTO {seeded.db}.events VALUES (toDateTime({old}), 700001, 1, 0)")
    iso = datetime.fromtimestamp(floor, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    result = await run(seeded.server, "ts", timeseries(seeded.db, clock_skew="15m", floor=iso))
    assert result.status is Status.FAIL
    assert result.output == f"1 row dated before {fmt_time(floor)}, earliest {fmt_time(old)}"
    assert observed(result)["future_rows"] == 0  # 10 minutes ahead is within the 15 min allowance
    strict = await run(seeded.server, "ts", timeseries(seeded.db, clock_skew=0))
    assert strict.output == f"1 row dated in the future, worst {fmt_time(seeded.now + 600)}"


async def test_gap_fails_naming_the_first_empty_bucket(clickhouse_server: ClickHouseServer) -> None:
    now = int(clickhouse_server.query("SELECT toUInt32(now())"))
    hole = (now // 3600 - 5) * 3600
    data = seed(clickhouse_server, skip_hour=hole)
    try:
        result = await run(clickhouse_server, "ts", timeseries(data.db))
        assert result.status is Status.FAIL
        assert result.output == f"1 gap in the last 24h (1h buckets with no rows), first at {fmt_bucket(hole, 3600)}"
        assert observed(result)["gaps"] == 1
        sparse = await run(clickhouse_server, "ts", timeseries(data.db, bucket="2h", min_bucket_rows=100))
        assert sparse.status is Status.FAIL
        assert sparse.output.startswith("1 gap in the last 24h (2h buckets under 100 rows), first at ")
    finally:
        clickhouse_server.query(f"DROP DATABASE IF EXISTS {data.db}")


async def test_stale_table_fails_freshness(clickhouse_server: ClickHouseServer) -> None:
    data = seed(clickhouse_server, end_offset=3 * 3600)
    newest = (data.now - 3 * 3600) // 60 * 60
    try:
        result = await run(clickhouse_server, "ts", timeseries(data.db, max_lag="2h", min_bucket_rows=0))
        assert result.status is Status.FAIL
        lag = observed(result)["lag"]
        assert 3 * 3600 <= lag < 3 * 3600 + 120
        assert result.output == f"newest row is {lag / 3600:.1f} h old ({fmt_time(newest)}), max lag 2h"
        # with gap detection on, the empty recent hours are reported as well
        gaps = await run(clickhouse_server, "ts", timeseries(data.db, max_lag="2h"))
        assert "gaps in the last 24h (1h buckets with no rows)" in gaps.output
        assert observed(gaps)["gaps"] in (2, 3)
    finally:
        clickhouse_server.query(f"DROP DATABASE IF EXISTS {data.db}")


async def test_duplicates_fail_above_threshold(seeded: Seeded) -> None:
    # five rows of the last hour written twice (a retried batch), one of them three times
    recent = f"SELECT * FROM {seeded.db}.events WHERE ts >= toDateTime({seeded.now - 3600}) ORDER BY event_id LIMIT 5"
    seeded.q(f"INSERT INTO {seeded.db}.events {recent}")
    worst = int(seeded.q(f"SELECT event_id FROM ({recent}) LIMIT 1"))
    seeded.q(f"INSERT INTO {seeded.db}.events SELECT * FROM {seeded.db}.events WHERE event_id = {worst} LIMIT 1")
    result = await run(seeded.server, "ts", timeseries(seeded.db))
    assert result.status is Status.FAIL
    assert result.output == f"6 duplicate rows on (event_id) in the last 24h, 5 keys repeated, worst {worst} x3"
    assert observed(result)["duplicate_rows"] == 6
    tolerated = await run(seeded.server, "ts", timeseries(seeded.db, max_duplicates=6))
    assert tolerated.status is Status.PASS


async def test_timeseries_on_a_date_column(seeded: Seeded) -> None:
    options = {
        "kind": "timeseries",
        "table": f"{seeded.db}.events_daily",
        "time_column": "day",
        "lookback": "48h",
        "bucket": 86400,
        "max_lag": "25h",
    }
    result = await run(seeded.server, "ts", options)
    assert result.status is Status.PASS, result.output
    assert result.output.endswith(" old; no gaps, future or pre-2000-01-01 rows")
    values = observed(result)
    assert values["gaps"] == 0 and values["window_rows"] in (2, 3)
    seeded.q(
        f"INSERT INTO {seeded.db}.events_daily VALUES (toDate('2000-01-01') - 1, 1, 0), "
        f"(toDate('{fmt_bucket(seeded.now + 3 * 86400, 86400)}'), 1, 0)"
    )
    faulty = await run(seeded.server, "ts", options)
    assert faulty.output == (
        f"1 row dated in the future, worst {fmt_bucket(seeded.now + 3 * 86400, 86400)} 00:00:00; "
        "1 row dated before 2000-01-01 00:00:00, earliest 1999-12-31 00:00:00"
    )
    hourly = await run(seeded.server, "ts", {**options, "bucket": "1h"})
    assert hourly.output == f"column {seeded.db}.events_daily.day is a Date: bucket must be whole days"


async def test_missing_table_or_column_is_named(seeded: Seeded) -> None:
    missing = await run(seeded.server, "ts", timeseries(seeded.db, table=f"{seeded.db}.nope"))
    assert (missing.status, missing.output) == (Status.FAIL, f"table {seeded.db}.nope not found")
    column = await run(seeded.server, "ts", timeseries(seeded.db, keys=["nope"]))
    assert (column.status, column.output) == (Status.FAIL, f"table {seeded.db}.events has no column nope")
    wrong = await run(seeded.server, "ts", timeseries(seeded.db, time_column="value"))
    assert wrong.output == f"column {seeded.db}.events.value is Float64, expected DateTime or Date"


def test_identifiers_and_measures_are_validated() -> None:
    bad = [
        {"kind": "timeseries", "table": "events; DROP TABLE x", "time_column": "ts"},
        {"kind": "timeseries", "table": "events", "time_column": "ts`"},
        {"kind": "timeseries", "table": "events", "time_column": "ts", "keys": ["a b"]},
        {"kind": "timeseries", "table": "events", "time_column": "ts", "lookback": 86400 * 30, "bucket": 60},
        {
            "kind": "rollup",
            "levels": [
                {"name": "raw", "table": "e", "time_column": "ts", "measures": {"c": "count() FROM system.users --"}},
                {"name": "h", "table": "h", "time_column": "hour", "bucket": 3600, "measures": {"c": "sum(events)"}},
            ],
        },
        {
            "kind": "rollup",
            "levels": [
                {"name": "raw", "table": "e", "time_column": "ts", "measures": {"c": "count()"}},
                {"name": "h", "table": "h", "time_column": "hour", "bucket": "7h", "measures": {"c": "sum(events)"}},
                {"name": "d", "table": "d", "time_column": "day", "bucket": 86400, "measures": {"c": "sum(events)"}},
            ],
        },
        {"kind": "query_performance", "queries": {"Bad-Name": "SELECT 1"}},
        {"kind": "query_performance", "queries": {}},
        {"kind": "timeseries", "table": "events", "time_column": "ts", "timezone": "Mars/Olympus"},
        {
            "kind": "rollup",
            "levels": [
                {"name": "raw", "table": "e", "time_column": "ts", "measures": {"c": "count()"}},
                {"name": "h", "table": "h", "time_column": "hour", "bucket": "7h", "measures": {"c": "sum(events)"}},
            ],
        },
    ]
    messages = []
    for options in bad:
        with pytest.raises(ValidationError) as info:
            make_settings(components={"ch": {"type": "clickhouse", "checks": {"x": options}}})
        messages.append(str(info.value))
    assert "is not a table name" in messages[0]
    assert "is not a plain identifier" in messages[1] and "is not a plain identifier" in messages[2]
    assert "at most 10000 buckets" in messages[3]
    assert "is not a measure" in messages[4]
    assert "must be a multiple of the level below's" in messages[5]
    assert "names must match" in messages[6]
    assert "at least 1 item" in messages[7]
    assert "'Mars/Olympus' is not an IANA time zone name (e.g. Europe/Berlin, Asia/Kolkata, UTC)" in messages[8]
    assert "level raw: bucket must divide a day (15m, 1h, 6h ...) or be whole days" in messages[9]
    ok = make_settings(
        components={
            "ch": {
                "type": "clickhouse",
                "checks": {
                    "ts": {"kind": "timeseries", "table": "db.events", "time_column": "ts", "timezone": "Asia/Kolkata"},
                    "query_performance": {"queries": {"a": "SELECT 1"}},
                },
            }
        }
    )
    checks = ok.components["ch"].checks
    assert ok.schedule("ch", "ts").severity.value == "degraded"  # data quality does not gate readiness
    assert ok.schedule("ch", "query_performance").severity.value == "critical"
    performance = checks["query_performance"]
    assert isinstance(performance, ClickHouseQueryPerformance) and performance.queries["a"].sla == 5.0


# -- rollup -----------------------------------------------------------------------------------------


def rollup(db: str, **options: Any) -> dict[str, Any]:
    return {"kind": "rollup", "settle": "1m", "lookback": "48h", "levels": event_rollup_levels(db), **options}


async def test_rollup_passes_on_consistent_levels(seeded: Seeded) -> None:
    result = await run(seeded.server, "roll", rollup(seeded.db))
    assert result.status is Status.PASS, result.output
    assert result.output == (
        "raw->hourly agree on 48 buckets; hourly->daily agree on 2 buckets (closed buckets of the last 48h)"
    )
    values = observed(result)
    assert (values["raw_hourly_buckets"], values["raw_hourly_mismatched_buckets"]) == (48, 0)
    assert (values["hourly_daily_buckets"], values["hourly_daily_mismatched_buckets"]) == (2, 0)
    assert 0 < values["raw_read_rows"] <= ROWS and values["hourly_read_rows"] <= 51
    assert values["daily_read_rows"] <= 4  # 50 hours of data touch 3 calendar days, or 4 near midnight UTC
    assert all(0 < values[f"{level}_latency"] <= result.duration for level in ("raw", "hourly", "daily"))


async def test_rollup_view_that_missed_inserts_fails(seeded: Seeded) -> None:
    hour = (seeded.now // 3600 - 3) * 3600
    # the view is detached while a late row lands in the raw table: the hourly level never sees it
    seeded.q(f"DETACH TABLE {seeded.db}.events_hourly")
    seeded.q(f"INSERT INTO {seeded.db}.events VALUES (toDateTime({hour + 30}), 999999, 1, 0)")
    seeded.q(f"ATTACH TABLE {seeded.db}.events_hourly")
    result = await run(seeded.server, "roll", rollup(seeded.db))
    assert result.status is Status.FAIL
    assert result.output == f"rollup raw->hourly mismatch at {fmt_bucket(hour, 3600)}: count 61 vs 60"
    values = observed(result)
    assert (values["raw_hourly_mismatched_buckets"], values["hourly_daily_mismatched_buckets"]) == (1, 0)


async def test_rollup_changed_daily_row_fails(seeded: Seeded) -> None:
    day = (seeded.now - 60) // 86400 * 86400 - 86400  # yesterday: a closed day, fully inside the data
    expected = int(
        seeded.q(f"SELECT sum(events) FROM {seeded.db}.events_daily WHERE day = toDate('{fmt_bucket(day, 86400)}')")
    )
    seeded.q(f"INSERT INTO {seeded.db}.events_daily VALUES (toDate('{fmt_bucket(day, 86400)}'), 1, 0.5)")
    result = await run(seeded.server, "roll", rollup(seeded.db))
    assert result.status is Status.FAIL
    assert result.output.startswith(
        f"rollup hourly->daily mismatch at {fmt_bucket(day, 86400)}: count {expected} vs {expected + 1}, value "
    )
    # the float sums differ by the 0.5 added; a looser tolerance forgives that but never an integer count
    loose = await run(seeded.server, "roll", rollup(seeded.db, tolerance=0.01))
    assert (
        loose.output == f"rollup hourly->daily mismatch at {fmt_bucket(day, 86400)}: count {expected} vs {expected + 1}"
    )


async def test_rollup_tolerates_float_rounding_not_missing_rows(seeded: Seeded) -> None:
    day = (seeded.now - 60) // 86400 * 86400 - 86400
    # re-sum the same values in another order: float sums may differ in the last digits, the check must not care
    seeded.q(f"ALTER TABLE {seeded.db}.events_daily DELETE WHERE day = toDate('{fmt_bucket(day, 86400)}')")
    for _ in range(100):
        if int(seeded.q(f"SELECT count() FROM system.mutations WHERE database = '{seeded.db}' AND is_done = 0")) == 0:
            break
        await asyncio.sleep(0.05)
    seeded.q(
        f"INSERT INTO {seeded.db}.events_daily SELECT toDate(ts), count(), sum(value) FROM "
        f"(SELECT ts, value FROM {seeded.db}.events WHERE toDate(ts) = toDate('{fmt_bucket(day, 86400)}') "
        "ORDER BY value DESC) GROUP BY toDate(ts)"
    )
    result = await run(seeded.server, "roll", rollup(seeded.db))
    assert result.status is Status.PASS, result.output


async def test_rollup_with_no_closed_data_warns(clickhouse_server: ClickHouseServer) -> None:
    data = seed(clickhouse_server)
    try:
        data.q(f"TRUNCATE TABLE {data.db}.events_daily")
        result = await run(clickhouse_server, "roll", rollup(data.db, lookback="24h", settle="72h"))
        assert result.status is Status.WARN
        assert result.output == (
            "rollup raw->hourly: no rows in closed buckets of the last 24h; "
            "rollup hourly->daily: no rows in closed buckets of the last 24h"
        )
    finally:
        clickhouse_server.query(f"DROP DATABASE IF EXISTS {data.db}")


# -- a stopped server -------------------------------------------------------------------------------
# Whenever a stopped server is hit (a pooled connection, a fresh one, a query in flight) a check says so in one way.


async def run_concurrently(scheduler: Any, keys: list[tuple[str, str]]) -> list[CheckResult]:
    """Every given check once, concurrently, each through its runner (deadline, error mapping, store)."""
    return list(await asyncio.gather(*(scheduler.runners[CheckId(*key)].run(scheduled=False) for key in keys)))


def stopped_server_settings(
    server: ClickHouseServer, data: Seeded, **extra: Any
) -> tuple[Settings, list[tuple[str, str]]]:
    """The four kinds on seeded data, plus `slow` (a query that never ends, to be hit mid-query), and an HTTP check."""
    checks = {
        "connectivity": {},
        "perf": {
            "kind": "query_performance",
            "queries": {"count_all": {"sql": f"SELECT count() FROM {data.db}.events", "sla": 1}},
        },
        "ts": timeseries(data.db),
        "roll": rollup(data.db),
        "slow": {"kind": "query_performance", "timeout": 3, "queries": {"endless": {"sql": ENDLESS, "sla": 1}}},
    }
    config = make_settings(
        defaults={"interval": 30, "timeout": 2},
        components={"ch": component(server, checks, max_connections=5), **extra},
    )
    return config, [("ch", name) for name in checks if name != "slow"]


async def start_slow(scheduler: Any, server: ClickHouseServer) -> asyncio.Task[CheckResult]:
    """The `slow` check, running on the server."""
    task = asyncio.get_running_loop().create_task(scheduler.runners[CheckId("ch", "slow")].run(scheduled=False))
    assert await appears(server, "vigil:ch:slow:endless:%")
    return task


async def test_killed_server_is_one_message_wherever_it_is_hit(clickhouse_factory: Any) -> None:
    server: ClickHouseServer = clickhouse_factory()
    config, keys = stopped_server_settings(server, seed(server))
    refused = f"cannot reach ClickHouse at 127.0.0.1:{server.tcp_port}: connection refused"
    async with check_runner(config) as scheduler:
        healthy = await run_concurrently(scheduler, keys)  # leaves a pooled connection per check
        assert [r.status for r in healthy] == [Status.PASS] * 4, [r.output for r in healthy]
        slow = await start_slow(scheduler, server)

        server.kill()
        lost = await slow
        assert (lost.status, lost.output) == (
            Status.FAIL,
            f"lost ClickHouse at 127.0.0.1:{server.tcp_port} during query endless: connection closed",
        )
        # it may still run there (not here: the server died): the check's next query looks first
        assert list(scheduler.runners[CheckId("ch", "slow")].memo.interrupted.values()) == ["query endless"]
        pooled = await run_concurrently(scheduler, keys)  # each pooled connection finds the server gone when it pings
        assert [(r.status, r.output) for r in pooled] == [(Status.FAIL, refused)] * 4
        fresh = await run_concurrently(scheduler, keys)  # the pool is empty now: each check connects anew
        assert [(r.status, r.output) for r in fresh] == [(Status.FAIL, refused)] * 4
        assert all(r.duration < 2 for r in pooled + fresh)  # refused (the output says so), no timeout waited out

        server.start()
        recovered = await run_concurrently(scheduler, keys)
        assert [r.status for r in recovered] == [Status.PASS] * 4, [r.output for r in recovered]
        assert scheduler.clients["ch"].in_use == 0


async def test_paused_server_is_one_message_and_delays_nothing(
    clickhouse_factory: Any, http_target: HttpTarget
) -> None:
    """A server that stops answering (SIGSTOP): the kernel still accepts connections, nothing answers on them."""
    server: ClickHouseServer = clickhouse_factory()
    web = http(http_target.url, 0.5, ok={"kind": "reachable", "path": "/ok"})
    config, keys = stopped_server_settings(server, seed(server), web=web)
    keys.append(("web", "ok"))
    silent = f"cannot reach ClickHouse at 127.0.0.1:{server.tcp_port}: no answer within the 500 ms connect timeout"
    async with check_runner(config) as scheduler:
        healthy = await run_concurrently(scheduler, keys)
        assert [r.status for r in healthy] == [Status.PASS] * 5, [r.output for r in healthy]
        slow = await start_slow(scheduler, server)

        server.pause()
        try:
            started = time.monotonic()
            pooled, lost = await asyncio.gather(run_concurrently(scheduler, keys), slow)
            elapsed = time.monotonic() - started
            fresh = await run_concurrently(scheduler, keys[:-1])
        finally:
            server.resume()
        assert (lost.status, lost.output) == (
            Status.FAIL,
            f"lost ClickHouse at 127.0.0.1:{server.tcp_port} during query endless: no data within the 1 s socket timeout",
        )
        web_result = pooled[-1]
        assert web_result.status is Status.PASS
        # It ran concurrently, not behind ClickHouse: done before any ClickHouse check gave up (500 ms at least).
        assert all(web_result.finished_at < r.finished_at for r in pooled[:-1]), [r.duration for r in pooled]
        # a pooled connection's ping (connect_timeout) goes unanswered, then so does the new connection's handshake
        assert [(r.status, r.output) for r in pooled[:-1]] == [(Status.FAIL, silent)] * 4
        assert all(r.duration < 2 for r in pooled[:-1]), [r.duration for r in pooled]  # not cut by the 2 s timeout
        assert [(r.status, r.output) for r in fresh] == [(Status.FAIL, silent)] * 4
        assert elapsed < within(2)  # the checks' timeout: nothing hung past it

        recovered = await run_concurrently(scheduler, keys)
        assert [r.status for r in recovered] == [Status.PASS] * 5, [r.output for r in recovered]
        assert scheduler.clients["ch"].in_use == 0


async def test_a_wide_result_is_refused_by_its_bytes_not_held(clickhouse_server: ClickHouseServer) -> None:
    """99,000 rows of 4 KB (about 400 MB) under the default limits: streamed in small blocks, counted, and stopped
    past max_result_bytes (16 MiB; ClickHouse 18.16 does not enforce it itself), so Vigil never holds it."""
    wide = "SELECT toFixedString('x', 4000) AS blob FROM system.numbers LIMIT 99000"
    tracemalloc.start()
    try:
        result = await run(clickhouse_server, "perf", {"kind": "query_performance", "queries": {"wide": wide}})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (result.status, result.output) == (
        Status.FAIL,
        "query wide returned more than 16.0 MiB (max_result_bytes): stopped unread",
    )
    assert peak < 64 * 2**20, f"{peak / 2**20:.0f} MiB allocated at the peak"
    deadline = time.monotonic() + 10  # the stopped query is killed on the server too (KILL QUERY, in the background)
    while await processes(clickhouse_server, "vigil:ch:perf:%"):
        assert time.monotonic() < deadline, "the stopped query still runs on the server"
        await asyncio.sleep(0.1)


async def test_tls_to_a_resolved_address_verifies_the_configured_name(tmp_path: Path) -> None:
    """asynch connects to the address Vigil resolved; its TLS context still checks the certificate against the
    component's host name (the certificate here is for 127.0.0.1 only)."""
    cert, key = self_signed_certificate(tmp_path)
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=served)
    port = server.sockets[0].getsockname()[1]
    try:
        for name, verifies in (("127.0.0.1", True), ("localhost", False)):
            context = NamedContext.verifying(name)
            context.load_verify_locations(cert)
            try:
                _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port, ssl=context), 5)
            except ssl.SSLCertVerificationError as exc:
                assert not verifies and "Hostname mismatch" in str(exc)
            else:
                assert verifies
                writer.close()
    finally:
        server.close()


async def test_a_peer_no_longer_asked_for_is_closed(clickhouse_server: ClickHouseServer, monkeypatch: Any) -> None:
    """A cluster check keeps a client per host; a host that left the cluster (no check asks for it any more) has its
    client and connections closed once PEER_IDLE has passed, instead of holding them for the life of the process."""
    from app.clients import clickhouse as module
    from app.clients.clickhouse import ClickHouseClient, ClickHouseSettings

    settings = ClickHouseSettings("127.0.0.1", clickhouse_server.tcp_port, "default", "", "default", False, 2, 1, 1, 2)
    client = ClickHouseClient(settings)
    try:
        gone = client.peer("localhost", clickhouse_server.tcp_port)  # the same server under another name
        assert (await gone.execute("SELECT 1", {}, timeout=5)).rows == [(1,)]
        assert gone._idle  # its connection, pooled
        assert client.peer("localhost", clickhouse_server.tcp_port) is gone  # asked again within PEER_IDLE: kept
        monkeypatch.setattr(module, "PEER_IDLE", 0.0)
        await asyncio.sleep(0.01)
        other = client.peer("127.0.0.2", clickhouse_server.tcp_port)  # asking for any peer retires the unasked
        assert client.peer("localhost", clickhouse_server.tcp_port) is not gone
        assert other is not gone
        await asyncio.wait_for(asyncio.gather(*client._background), timeout=10)
        assert gone._idle == []
    finally:
        await client.close()
