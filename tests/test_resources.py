"""Resources stay flat: open fds, asyncio tasks, threads and TCP connections of this process while every check
keeps failing (sampled after a warm-up and again after 2,000 more failing runs), and the memory of a real
`vigil serve` while its checks pass (the fault matrix's resource bounds and the day-long memory bound).

Failing: twenty checks at a 100 ms interval (ClickHouse's at 300 ms) against closed ports, a port that accepts and
never answers, a killed and a paused Redis: the failure paths of the HTTP, Redis, ClickHouse and TCP clients (names
looked up on the resolver threads too), about 150 failing runs a second. The black hole is another process, so
the sockets it holds are not counted as Vigil's.
"""

from __future__ import annotations

import asyncio
import gc
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from app.engine.store import RECENT_DURATIONS
from app.model import Status
from devenv.counting import read_counts, serve_command
from devenv.servers import free_port
from tests.conftest import (
    Served,
    clickhouse_component,
    http,
    make_settings,
    reach,
    redis_component,
    serve,
    tcp_component,
    within,
)

WARM_UP = 500  # failing runs before the first sample: pools, executors and caches have reached their size
RUNS = 2000  # failing runs between the two samples
SPREAD = 20  # runs between the readings of one sample (each reading catches different runs in flight)
READINGS = 9
# How far above its warm-up median a resource may end (runs in flight come and go); leaking one per hundred runs
# would be 20 more.
SLACK = {"fds": 8, "tasks": 8, "threads": 2, "connections": 6}

CLICKHOUSE_TIMING = {"interval": 0.3, "timeout": 0.25}

BLACK_HOLE = """
import selectors, socket, sys
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(1024)
print(listener.getsockname()[1], flush=True)
selector = selectors.DefaultSelector()
selector.register(listener, selectors.EVENT_READ)
while True:
    for key, _ in selector.select():
        if key.fileobj is listener:
            conn, _ = listener.accept()
            selector.register(conn, selectors.EVENT_READ)
            continue
        try:
            data = key.fileobj.recv(65536)  # read everything, answer nothing
        except OSError:
            data = b""
        if not data:  # the client gave up: let the socket go, so only the client's side could leak
            selector.unregister(key.fileobj)
            key.fileobj.close()
"""


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A port that accepts connections and never answers, served by another process; yields the port."""
    with subprocess.Popen([sys.executable, "-c", BLACK_HOLE], stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            yield int(proc.stdout.readline())
        finally:
            proc.terminate()


@dataclass(frozen=True)
class Reading:
    fds: int
    tasks: int
    threads: int
    connections: int  # TCP sockets of this process not listening


def tcp_connections() -> int:
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed since listed
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    count = 0
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        with open(table) as lines:
            next(lines)
            for line in lines:
                columns = line.split()
                if columns[9] in inodes and columns[3] != "0A":  # 0A: LISTEN
                    count += 1
    return count


def read_resources() -> Reading:
    gc.collect()  # what only waits for the collector is not a leak
    return Reading(
        fds=len(os.listdir("/proc/self/fd")),
        tasks=len(asyncio.all_tasks()),
        threads=threading.active_count(),
        connections=tcp_connections(),
    )


def runs(served: Served) -> int:
    return sum(sum(state.runs.values()) for state in served.store.states.values())


async def after_runs(served: Served, count: int) -> None:
    target = runs(served) + count
    await served.wait(lambda: runs(served) >= target, timeout=count / 10 + 10, what=f"{count} more runs")


async def sample(served: Served) -> dict[str, float]:
    """The median of READINGS readings, SPREAD runs apart (a reading catches whatever runs are in flight)."""
    readings = []
    for _ in range(READINGS):
        await after_runs(served, SPREAD)
        readings.append(read_resources())
    return {f.name: statistics.median(getattr(r, f.name) for r in readings) for f in fields(Reading)}


def failing_config(black_hole: int, killed: Any, paused: Any) -> Any:
    closed = free_port()
    hole = f"127.0.0.1:{black_hole}"
    return make_settings(
        defaults={"interval": 0.1, "timeout": 0.08, "failure_threshold": 1, "jitter": 1.0},
        components={
            "web_closed": http(
                f"http://localhost:{closed}", connect_timeout=0.03, a=reach("/a"), b=reach("/b"), c=reach("/c")
            ),
            "web_hole": http(f"http://{hole}", connect_timeout=0.03, a=reach("/a"), b=reach("/b"), c=reach("/c")),
            "redis_killed": {
                "type": "redis",
                "url": killed.url,
                "checks": {"connectivity": {}, "pool": {}, "memory": {}},
            },
            "redis_paused": {
                "type": "redis",
                "url": paused.url,
                "checks": {"connectivity": {}, "pool": {}, "memory": {}, "session_ttl": {}},
            },
            "redis_hole": redis_component(f"redis://{hole}/0", {"connectivity": {}, "memory": {}}),
            # ClickHouse checks keep time for their query: a longer timeout, so each run really connects.
            "ch_closed": clickhouse_component(closed, {"connectivity": CLICKHOUSE_TIMING}),
            "ch_hole": {
                "type": "clickhouse",
                "port": black_hole,
                "checks": {
                    "connectivity": CLICKHOUSE_TIMING,
                    "query": {
                        "kind": "query_performance",
                        "queries": {"one": {"sql": "SELECT 1", "sla": 0.2}},
                        **CLICKHOUSE_TIMING,
                    },
                },
            },
            "tcp_closed": tcp_component("localhost", closed),
            "tls_hole": tcp_component("127.0.0.1", black_hole, tls=True),
        },
    )


async def test_resources_flat_over_2000_failing_runs(redis_factory: Any, black_hole: int) -> None:
    killed, paused = redis_factory(), redis_factory()
    killed.kill()
    paused.pause()
    config = failing_config(black_hole, killed, paused)
    async with serve(config) as served:
        assert len(served.store.states) == 20
        await after_runs(served, WARM_UP)
        before = await sample(served)
        await after_runs(served, RUNS)
        after = await sample(served)
        # Every run of every check failed: the failure paths are what was measured.
        passed = {
            str(s.check_id): s.runs for s in served.store.states.values() if s.runs[Status.FAIL] != sum(s.runs.values())
        }
        assert not passed, passed
        grown = {name: (before[name], after[name]) for name in SLACK if after[name] > before[name] + SLACK[name]}
        assert not grown, f"grew over {RUNS} failing runs (warm-up median, after): {grown}"


def scraped_runs(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return int(
        sum(
            sample.value
            for family in text_string_to_metric_families(text)
            if family.name == "vigil_check_runs"
            for sample in family.samples
        )
    )


@pytest.mark.timeout(600)  # 20,000 runs at 250 a second, slower on a starved machine
def test_memory_flat_after_warm_up(redis_factory: Any, tmp_path: Path) -> None:
    """A real `vigil serve` (50 checks at 200 ms against a real Redis, /health and /metrics read meanwhile): once
    every bounded buffer is full, Python's count of allocated blocks (devenv.counting: none of RSS's allocator
    noise) does not grow with runs. Keeping one object per run, as the old per-run history did, would add
    10,000 blocks here (a tuple and a float per run: 20,000, tried); the limit is 1,000, the noise a few hundred."""
    server = redis_factory()
    config = {
        "defaults": {"interval": "200ms", "timeout": "150ms", "jitter": 1.0},
        "server": {"show_details": "always"},
        "components": {
            "cache": {
                "type": "redis",
                "url": server.url,
                "max_connections": 16,
                "checks": {f"c{i}": {"kind": "connectivity"} for i in range(50)},
            }
        },
    }
    path = tmp_path / "vigil.yaml"
    path.write_text(yaml.safe_dump(config))
    blocks, port = tmp_path / "blocks", free_port()
    command = serve_command(blocks, "--config", str(path), "--host", "127.0.0.1", "--port", str(port), period=0.5)
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as proc:
        try:
            counts_at: dict[str, int] = {}
            runs_at: dict[str, int] = {}
            # Every check's buffer of recent durations is full past RECENT_DURATIONS runs; the pool and the caches
            # settle a few seconds later (measured: the count then stays within a few hundred blocks).
            warm = 50 * (RECENT_DURATIONS + 50)
            while scraped_runs_when_up(port, proc) == 0:
                time.sleep(0.2)
            for phase, target in (("before", warm), ("after", warm + 10_000)):
                while (done := scraped_runs_when_up(port, proc)) < target:
                    read_health(port)
                    time.sleep(0.5)
                recent = [count for _, count in read_counts(blocks)[-9:]]
                counts_at[phase], runs_at[phase] = int(statistics.median(recent)), done
        finally:
            proc.terminate()
            _, errors = proc.communicate(timeout=15)
    assert "Traceback" not in errors, errors
    grown, runs_ = counts_at["after"] - counts_at["before"], runs_at["after"] - runs_at["before"]
    assert grown < 0.1 * runs_, f"{grown} more blocks after {runs_} runs ({grown / runs_:.3f} per run)"


def read_health(port: int) -> None:
    """A dashboard's read of /health with details (503 while a check is pending or failing: read all the same)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=within(15)) as response:
            response.read()
    except urllib.error.HTTPError as error:
        assert error.code == 503
        error.read()


def scraped_runs_when_up(port: int, proc: subprocess.Popen[str]) -> int:
    """Runs so far, 0 while the server is still starting (it must not have exited)."""
    assert proc.poll() is None, "vigil serve exited"
    try:
        return scraped_runs(port)
    except OSError:
        return 0
