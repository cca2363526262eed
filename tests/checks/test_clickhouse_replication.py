"""The `replication`, `cluster` and `consistency` checks against a real replicated ClickHouse: ZooKeeper, shard 1 on
two replicas (r1, r2) and shard 2 on one host (s2), all in the cluster `vigil` (devenv.chreplicas).

One topology for the module; the scenarios run in order, and each one that breaks something (ZooKeeper stopped, a
replica paused, a shard host stopped) puts it back before the next. Every state is the servers' own.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from app.config.settings import Settings, load_settings
from app.engine.scheduler import Scheduler
from app.model import CheckId, CheckResult, Status
from app.units import bucket_start, value
from devenv.chreplicas import CLUSTER, SESSION_TIMEOUT_MS, ReplicatedTopology, seed_demo
from devenv.servers import ClickHouseServer, wait_for
from tests.conftest import check_runner, make_settings, observed, within

ROOT = Path(__file__).resolve().parents[2]
HOURS = 30  # of one row a minute, ending at the current minute
COLUMNS = "ts DateTime, id UInt64, value Float64"
SESSION = SESSION_TIMEOUT_MS / 1000


def fill(server: ClickHouseServer, table: str, now: int, step: float = 0.5) -> None:
    rows = HOURS * 60
    last = now // 60 * 60
    server.query(
        f"INSERT INTO {table} SELECT toDateTime({last} - ({rows - 1} - number) * 60), number, number * {step} "
        f"FROM numbers({rows})"
    )


def count(server: ClickHouseServer, table: str) -> int:
    return int(server.query(f"SELECT count() FROM {table}"))


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReplicatedTopology]:
    """The cluster, with two replicated tables in `shop` (rows in both shards) and `shop.events_local`, a plain
    MergeTree table on every host (a copy that does not replicate), filled alike on r1 and r2."""
    topo = ReplicatedTopology(Path(tmp_path_factory.mktemp("chrepl")))
    try:
        topo.start()
        topo.create_replicated("shop", "events", COLUMNS, "(ts, id)", "toYYYYMMDD(ts)")
        topo.create_replicated("shop", "sessions", "ts DateTime, user UInt32", "(ts, user)")
        for member in topo.members:
            member.server.query(f"CREATE TABLE shop.events_local ({COLUMNS}) ENGINE = MergeTree ORDER BY (ts, id)")
        now = int(topo.r1.query("SELECT toUInt32(now())"))
        fill(topo.r1, "shop.events", now)
        fill(topo.s2, "shop.events", now, step=2.0)
        topo.r1.query("INSERT INTO shop.sessions SELECT now() - number, number FROM numbers(100)")
        for server in (topo.r1, topo.r2):
            fill(server, "shop.events_local", now)
        wait_for(lambda: count(topo.r2, "shop.events") == HOURS * 60, within(10), "r2 to replicate shop.events")
        wait_for(lambda: count(topo.r2, "shop.sessions") == 100, within(10), "r2 to replicate shop.sessions")
        yield topo
    finally:
        topo.cleanup()


def settings(topo: ReplicatedTopology) -> Settings:
    fast = {"connect_timeout": 0.5, "socket_timeout": 1.0, "pool_timeout": 0.5}
    replication = {"database": "shop", "delay_warn": "1s", "inserts_warn": 1}
    consistency = {
        "cluster": CLUSTER,
        "table": "shop.events",
        "time_column": "ts",
        "measure": "sum(value)",
        "timezone": "UTC",
    }
    return make_settings(
        defaults={"interval": 60, "timeout": 5},
        components={
            "r1": {
                "type": "clickhouse",
                "port": topo.r1.tcp_port,
                **fast,
                "checks": {
                    "replication": replication,
                    "cluster": {"cluster": CLUSTER, "host_timeout": "3s"},
                    "consistency": consistency,
                    "diverged": {**consistency, "kind": "consistency", "table": "shop.events_local"},
                },
            },
            "r2": {
                "type": "clickhouse",
                "port": topo.r2.tcp_port,
                **fast,
                "checks": {
                    "replication": {**replication, "database": None, "tables": ["shop.events", "shop.sessions"]}
                },
            },
        },
    )


class Runs:
    """Runs checks through one real scheduler (clients and memory kept between runs)."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler

    async def run(self, component: str, check: str) -> CheckResult:
        return await self.scheduler.runners[CheckId(component, check)].run(scheduled=False)

    async def until(
        self, component: str, check: str, wanted: Callable[[CheckResult], bool], timeout: float, what: str
    ) -> CheckResult:
        """Run the check again and again until a result is `wanted`; fails with the last output after `timeout`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = await self.run(component, check)
            if wanted(result):
                return result
            if loop.time() > deadline:
                raise AssertionError(f"{component}:{check}: {what} not seen in {timeout:g}s; last: {result.output}")
            await asyncio.sleep(0.2)


@asynccontextmanager
async def runs(topo: ReplicatedTopology) -> AsyncIterator[Runs]:
    async with check_runner(settings(topo)) as scheduler:
        yield Runs(scheduler)


def address(server: ClickHouseServer) -> str:
    return f"127.0.0.1:{server.tcp_port}"


async def test_healthy_cluster_passes_every_check(topology: ReplicatedTopology) -> None:
    async with runs(topology) as vigil:
        results = {
            name: await vigil.until(c, k, lambda r: r.status is Status.PASS, within(5), "a pass")
            for name, (c, k) in {
                "r1": ("r1", "replication"),
                "r2": ("r2", "replication"),
                "cluster": ("r1", "cluster"),
                "consistency": ("r1", "consistency"),
            }.items()
        }
    assert re.fullmatch(
        r"2 replicated tables in database shop, none read-only, 2 of 2 replicas active; "
        r"most behind shop\.\w+ by 0 s, longest queue \d+ entr(y|ies)",
        results["r1"].output,
    ), results["r1"].output
    assert results["r2"].output.startswith("2 configured replicated tables, none read-only, 2 of 2 replicas active")
    values = observed(results["r1"])
    assert values["replicated_tables"] == 2 and values["readonly_tables"] == 0 and values["absolute_delay"] == 0
    assert re.fullmatch(
        rf"cluster {CLUSTER}: all 3 hosts of 2 shards answered, slowest shard \d replica \d \(127\.0\.0\.1:\d+\) "
        r"in [\d.]+ m?s",
        results["cluster"].output,
    ), results["cluster"].output
    assert observed(results["cluster"])["hosts_answering"] == 3
    # Shard 2 has one host: nothing to compare there; shard 1's replicas agree on every settled hour.
    assert results["consistency"].output == (
        "shop.events: the replicas of 1 shard agree on rows and sum(value) in 24 settled buckets of the last 24h"
    )
    assert observed(results["consistency"])["mismatched_buckets"] == 0


async def test_the_replicated_example_config_passes_against_the_cluster(
    topology: ReplicatedTopology, monkeypatch: pytest.MonkeyPatch
) -> None:
    """examples/clickhouse-replicated.yaml (what run-local.sh --clickhouse-replicas serves) loads, pointed at this
    topology as run-local.sh points it, and every check of it passes on the demo data devenv seeds."""
    seed_demo(topology)
    ports = {"REPLICA_1": topology.r1, "REPLICA_2": topology.r2, "SHARD_2": topology.s2}
    for name, server in ports.items():
        monkeypatch.setenv(f"VIGIL_COMPONENTS__{name}__PORT", str(server.tcp_port))
    wait_for(lambda: count(topology.r2, "demo.events") == 30 * 60, within(10), "r2 to replicate demo.events")
    loaded = load_settings(ROOT / "examples" / "clickhouse-replicated.yaml")
    async with check_runner(loaded) as scheduler:
        vigil = Runs(scheduler)
        for check_id in scheduler.runners:
            result = await vigil.until(*check_id, lambda r: r.status is Status.PASS, within(5), "a pass")
            assert result.output, check_id
    kinds = {loaded.check_config(c, k).kind for c, k in scheduler.runners}
    assert kinds == {"connectivity", "replication", "cluster", "consistency"}


async def test_a_diverged_replica_fails_consistency_naming_the_bucket_and_both_counts(
    topology: ReplicatedTopology,
) -> None:
    """A replica that diverged: `shop.events_local` is a plain MergeTree table on each host, the copy a table created
    without a Replicated engine gives (a migration run per host instead of ON CLUSTER); rows written to one host's
    copy never reach the other. The writer wrote the same rows to both, then one row, five hours old (a settled
    bucket), only to r2's. Nothing replicates it, so the two replicas disagree on that hour for good."""
    now = int(topology.r2.query("SELECT toUInt32(now())"))
    late = (now - 5 * 3600) // 3600 * 3600 + 1800
    topology.r2.query(f"INSERT INTO shop.events_local VALUES ({late}, 999999, 100)")
    async with runs(topology) as vigil:
        result = await vigil.run("r1", "diverged")
    assert result.status is Status.FAIL, result.output
    hour = bucket_start(late // 3600 * 3600, 3600)
    sql = f"SELECT sum(value) FROM shop.events_local WHERE intDiv(toUInt32(ts), 3600) = {late // 3600}"
    base = float(topology.r1.query(sql))
    assert result.output == (
        f"shard 1 replicas disagree at {hour}: rows 60 on {address(topology.r1)} vs 61 on {address(topology.r2)}, "
        f"sum(value) {value(base)} on {address(topology.r1)} vs {value(base + 100)} on {address(topology.r2)}"
    )
    assert observed(result)["mismatched_buckets"] == 1


async def test_zookeeper_stopped_makes_the_replicas_read_only_and_started_again_passes(
    topology: ReplicatedTopology,
) -> None:
    async with runs(topology) as vigil:
        topology.zookeeper.terminate()
        try:
            for component in ("r1", "r2"):
                failed = await vigil.until(
                    component,
                    "replication",
                    lambda r: observed(r)["readonly_tables"] == 2,
                    within(5),
                    "read-only tables",
                )
                assert failed.output == (
                    "2 replicated tables read-only (ZooKeeper session expired), inserts into them fail: "
                    "shop.events, shop.sessions"
                )
                assert observed(failed)["readonly_tables"] == 2
            # The cluster itself still answers: only replication needs ZooKeeper.
            assert (await vigil.run("r1", "cluster")).status is Status.PASS
        finally:
            await asyncio.to_thread(topology.zookeeper.start)
        for component in ("r1", "r2"):
            await vigil.until(component, "replication", lambda r: r.status is Status.PASS, within(10), "a pass")


async def test_a_paused_replica_is_named_by_cluster_and_warns_with_its_backlog_until_caught_up(
    topology: ReplicatedTopology,
) -> None:
    """r2 is paused (SIGSTOP) while rows keep coming to r1. Fetches are stopped on r2 first (SYSTEM STOP FETCHES),
    so the backlog it finds on waking stays in its queue until the test lets it go: catching up otherwise takes a
    fraction of a second, less than one check run."""
    r1, r2 = topology.r1, topology.r2
    async with runs(topology) as vigil:
        r2.query("SYSTEM STOP FETCHES shop.events")
        r2.pause()
        try:
            for i in range(3):
                r1.query(f"INSERT INTO shop.events VALUES (now(), {10_000_000 + i}, 1)")
            cluster = await vigil.run("r1", "cluster")
            assert cluster.status is Status.FAIL
            assert cluster.output == (
                f"shard 1 replica 2: cannot reach ClickHouse at {address(r2)}: no answer within the 500 ms connect timeout"
            )
            assert observed(cluster)["hosts_answering"] == 2
            # r1's own replication is fine; once r2's ZooKeeper session has expired, r1 counts it as inactive.
            first = await vigil.run("r1", "replication")
            assert first.status is not Status.FAIL, first.output
            # ZooKeeper marks r2 inactive table by table, so a run may see one table before the other.
            both = "1 of 2 replicas not active for shop.events, shop.sessions"
            inactive = await vigil.until(
                "r1", "replication", lambda r: r.output == both, within(SESSION + 5), "r2 inactive for both tables"
            )
            assert inactive.status is Status.WARN
        finally:
            r2.resume()
        try:
            behind = await vigil.until(
                "r2",
                "replication",
                lambda r: r.status is Status.WARN and "still to fetch" in r.output and "behind" in r.output,
                within(10),
                "a warning on the backlog",
            )
            assert re.search(
                r"shop\.events has [1-3] inserted parts? still to fetch, at or above the 1 warn", behind.output
            )
            assert re.search(r"shop\.events is \d+ s behind \(absolute_delay\), at or above the 1s warn", behind.output)
            assert observed(behind)["inserts_in_queue"] >= 1
        finally:
            r2.query("SYSTEM START FETCHES shop.events")
        await vigil.until("r2", "replication", lambda r: r.status is Status.PASS, within(10), "caught up")
        await vigil.until("r1", "cluster", lambda r: r.status is Status.PASS, within(5), "every host answering")
    assert count(r2, "shop.events") == count(r1, "shop.events")


async def test_a_stopped_shard_host_fails_cluster_naming_it(topology: ReplicatedTopology) -> None:
    s2 = topology.s2
    async with runs(topology) as vigil:
        s2.terminate()
        try:
            result = await vigil.run("r1", "cluster")
            consistency = await vigil.run("r1", "consistency")
        finally:
            await asyncio.to_thread(s2.start)
        assert (await vigil.run("r1", "cluster")).status is Status.PASS
    assert result.status is Status.FAIL
    assert result.output == (
        f"shard 2 replica 1: cannot reach ClickHouse at {address(s2)}: connection refused; "
        f"shard 2 has no replica answering: Distributed queries over cluster {CLUSTER} fail, or miss its rows "
        "with skip_unavailable_shards"
    )
    assert consistency.status is Status.FAIL
    assert consistency.output.startswith(f"shard 2 replica 1 not compared: cannot reach ClickHouse at {address(s2)}")
