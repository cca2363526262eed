"""Early warning against a real ClickHouse: a query over a table that grows between runs gets a latency forecast
against its SLA before it breaches it, and the same query over a table that does not grow gets none."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from app.engine.store import CheckState
from app.model import CheckId, CheckResult, Status
from devenv.servers import ClickHouseServer
from tests.conftest import Served, make_settings, serve

SLA = 0.2  # seconds
# The query's time is its rows': each costs 0.1 ms of server time (sleepEachRow, on one thread), so the latency
# grows with the table and with nothing else. A CPU-bound scan (sum(sipHash64(x))) tracks the neighbours' load as
# much as its rows on a busy two-core machine: its slope changed threefold within one run, and the stable table's
# latency rose with the growing one's contention until that, too, was forecast.
QUERY = "SELECT count() FROM {table} WHERE sleepEachRow(0.0001) = 0"
BASE_ROWS = 100  # both tables start here: about 10 ms
RATE = 100  # rows per second into the growing one: +10 ms/s, so the SLA is reached some 19 s in
MAX_ROWS = 4_000  # the writer's backstop: twice the SLA
WINDOW, HORIZON = 6.0, 60.0


@pytest.fixture
def clickhouse_one_thread() -> Iterator[ClickHouseServer]:
    """A private clickhouse-server that runs each query on one thread, so a query's time is its rows' whatever the
    number of cores (SETTINGS in the query itself are refused under readonly)."""
    server = ClickHouseServer()
    users = server.dir / "users.xml"
    profile = "<use_uncompressed_cache>0</use_uncompressed_cache>"  # in the default profile
    text = users.read_text()
    assert text.count(profile) == 1
    users.write_text(text.replace(profile, f"{profile}<max_threads>1</max_threads>"))
    server.start()
    yield server
    server.cleanup()


def query_check(server: ClickHouseServer, table: str) -> dict[str, Any]:
    return {
        "type": "clickhouse",
        "port": server.tcp_port,
        "connect_timeout": 0.2,
        "socket_timeout": 0.3,
        "pool_timeout": 0.1,
        "checks": {
            "perf": {
                "kind": "query_performance",
                "interval": "400ms",
                "timeout": "350ms",
                "warn_fraction": 1.0,  # no warning of its own below the SLA: a warn here is the forecast's
                "queries": {"scan": {"sql": QUERY.format(table=table), "sla": SLA}},
                "forecast": {"window": f"{WINDOW:g}s", "horizon": f"{HORIZON:g}s"},
            }
        },
    }


def latency(result: CheckResult) -> float | None:
    value = next((o.value for o in result.observed if o.name == "scan_latency"), None)
    return value if isinstance(value, float) else None


class Runs:
    """Every result one check records, seen by polling the store (the scheduler is its only writer)."""

    def __init__(self, state: CheckState) -> None:
        self.state = state
        self.seen: list[CheckResult] = []

    def poll(self) -> None:
        last = self.state.last
        if last is not None and (not self.seen or last is not self.seen[-1]):
            self.seen.append(last)

    def breach(self, runs: int = 3) -> float | None:
        """When the latency crossed the SLA to stay: the end of the first of `runs` runs in a row over it (or cut
        off at the deadline). One slow run on a busy machine is noise, not the breach."""
        over = 0
        for i, result in enumerate(self.seen):
            value = latency(result)
            over = over + 1 if value is None or value > SLA else 0
            if over == runs:
                return self.seen[i - runs + 1].finished_at
        return None

    def trace(self) -> str:
        """Each run's latency, timed from the first run: `0.4s:15ms 0.8s:19ms …`."""
        since = self.seen[0].finished_at if self.seen else 0.0
        return " ".join(f"{r.finished_at - since:.1f}s:{(latency(r) or 0) * 1000:.0f}ms" for r in self.seen)


async def health_entry(served: Served, component: str, wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The check's /health entry, once it answers 200 and `wanted` holds for it (a run may land between the store and
    the request; a busy machine may starve the process past the 1.15 s staleness bound until the next run)."""
    deadline = time.monotonic() + 10
    while True:
        status, text, _ = await served.get(f"/health/{component}/perf")
        entry: dict[str, Any] = json.loads(text)["checks"][f"{component}:perf"][0]
        if status == 200 and wanted(entry):
            return entry
        assert time.monotonic() < deadline, text
        await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_growing_table_gets_a_latency_forecast_before_its_sla_breach_and_a_stable_one_does_not(
    clickhouse_one_thread: ClickHouseServer,
) -> None:
    server = clickhouse_one_thread
    assert server.query("SELECT value FROM system.settings WHERE name = 'max_threads'").strip() == "1"
    db = f"vigil_forecast_{uuid.uuid4().hex[:8]}"
    server.query(f"CREATE DATABASE {db}")
    for table in ("growing", "stable"):
        server.query(f"CREATE TABLE {db}.{table} (x UInt32) ENGINE = Memory")
        server.query(f"INSERT INTO {db}.{table} SELECT number FROM numbers({BASE_ROWS})")
    settings = make_settings(
        defaults={"jitter": 0},
        server={"show_details": "always"},
        components={"growing": query_check(server, f"{db}.growing"), "stable": query_check(server, f"{db}.stable")},
    )
    stop = threading.Event()
    errors: list[Exception] = []

    def writer() -> None:  # RATE rows a second, paced on the clock: a slow or failed insert is caught up, not lost
        began, written, failures = time.monotonic(), 0, 0
        while not stop.wait(0.2) and written < MAX_ROWS and failures < 5:  # a block every 0.2 s
            due = min(int(RATE * (time.monotonic() - began)), MAX_ROWS) - written
            if due > 0:
                try:
                    server.query(f"INSERT INTO {db}.growing SELECT number FROM numbers({due})", timeout=5)
                except Exception as exc:  # noqa: BLE001 - the load generator's, shown if the test fails
                    errors.append(exc)
                    failures += 1
                else:
                    written += due
                    failures = 0

    thread = threading.Thread(target=writer, daemon=True)
    try:
        async with serve(settings) as served:
            grow = Runs(served.store.states[CheckId("growing", "perf")])
            steady = Runs(served.store.states[CheckId("stable", "perf")])

            def watching(condition: Callable[[], object]) -> Callable[[], bool]:
                def predicate() -> bool:
                    grow.poll()
                    steady.poll()
                    return bool(condition())

                return predicate

            async def wait(condition: Callable[[], object], timeout: float, what: str) -> None:
                try:
                    await served.wait(watching(condition), timeout, what)
                except AssertionError as exc:
                    raise AssertionError(f"{exc}; writer errors: {errors}; trace: {grow.trace()}") from None

            await wait(lambda: grow.seen and steady.seen, 10, "first runs")
            started = time.time()
            thread.start()

            await wait(lambda: grow.state.forecast is not None, 30, "a forecast")
            forecast, first = grow.state.forecast, grow.state.last
            assert forecast is not None and first is not None
            now = latency(first)
            assert now is not None and now < SLA  # still within its SLA: an early warning
            assert first.status is Status.WARN
            assert first.output.startswith("scan latency reaches its 200 ms SLA in about "), first.output
            assert (forecast.measure, forecast.limit.value, forecast.limit.name) == (
                "scan_latency",
                SLA,
                "its 200 ms SLA",
            )
            assert 0 < forecast.breach_in <= HORIZON and forecast.rate > 0
            predicted = first.finished_at + forecast.breach_in

            entry = await health_entry(served, "growing", lambda e: "forecast" in e)
            assert entry["status"] == "warn" and "forecast" in entry, entry
            block = entry["forecast"]
            assert (block["measure"], block["limit"], block["limitName"], block["method"]) == (
                "scan_latency",
                SLA,
                "its 200 ms SLA",
                "theil-sen + mann-kendall",
            )
            assert 0 < block["breachIn"] <= HORIZON and block["ratePerSecond"] > 0

            await wait(lambda: grow.breach() is not None, 60, "the SLA breach")
            breached = grow.breach()
            assert breached is not None

            # The control, over the same period: runs all along, never a forecast, never a warning.
            assert len(steady.seen) >= 20
            assert steady.state.forecast is None
            assert not [r.output for r in steady.seen if r.status is Status.WARN], steady.trace()
            assert "forecast" not in await health_entry(served, "stable", lambda e: True)
    finally:
        stop.set()
        if thread.is_alive():
            await asyncio.to_thread(thread.join, 10)
        with contextlib.suppress(OSError):  # a server that died must not hide why
            server.query(f"DROP DATABASE IF EXISTS {db}")
    # The server's time is exact (rows x 0.1 ms), but Vigil measures latency as a client on a shared machine: a burst
    # of other work delays single readings by tens of ms, which moves both the rate fitted from the first few seconds
    # of growth and the moment three readings in a row first exceed the SLA. Over some 40 runs (a busy machine, alone
    # and beside one or two busy-looping processes on its two cores) the predicted lead was 0.8 to 1.15 times the real
    # one, but for two runs beside the loops: 1.40 and 1.56 times. A factor of 2 either way still catches a forecast
    # that is wrong (a rate off by the flat start or in the wrong unit) without failing on load.
    lead, predicted_lead = breached - first.finished_at, predicted - first.finished_at
    figures = (
        f"forecast {first.finished_at - started:.1f} s after the writes began at {now * 1000:.0f} ms; "
        f"predicted breach {predicted_lead:.1f} s later, real {lead:.1f} s later; trace: {grow.trace()}"
    )
    assert lead / 2 <= predicted_lead <= 2 * lead, figures
