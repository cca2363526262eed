"""A `redis` component on a real Redis Cluster (3 primaries, 3 replicas, started once for the module): every kind
passes; one node near its maxmemory, a hung node and a killed primary are each named; a cluster with a slot range
unassigned fails naming it. Scenarios that break the cluster put it back before they end."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from app.checks.redis.cluster_judge import parse_info
from app.config.settings import Settings, load_settings
from app.model import CheckResult, Status
from devenv.rediscluster import RedisCluster
from devenv.servers import RedisServer, free_port
from tests.conftest import check_runner, make_settings, observed, run_check, within

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cluster.yaml"
ALL_KINDS = {
    "connectivity": {},
    "pool": {},
    "memory": {},
    "session_ttl": {},
    "replication": {"min_replicas": 1},
    "cluster": {},
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[RedisCluster]:
    started = RedisCluster(replica_failover=False, appendonly=True).start()
    yield started
    started.cleanup()


def settings(seeds: list[str], checks: dict[str, Any] | None = None, **options: Any) -> Settings:
    component = {"type": "redis", "cluster": {"seeds": seeds}, "checks": checks or ALL_KINDS, **options}
    return make_settings(components={"cache": component})


def vigil_connections(node: RedisServer) -> int:
    """Normal client connections but the one asking (a replica's link to its primary is flagged M)."""
    lines = node.cli("CLIENT", "LIST").splitlines()
    return sum(1 for line in lines if " flags=N " in line and " cmd=client|list " not in line)


def primary_of_slot(cluster: RedisCluster, slot: int) -> RedisServer:
    for line in cluster.running()[0].cli("CLUSTER", "NODES").splitlines():
        fields = line.split()
        for entry in fields[8:]:
            low, _, high = entry.partition("-")
            if low.isdigit() and int(low) <= slot <= int(high or low):
                return cluster.node(int(fields[1].split("@")[0].rsplit(":", 1)[1]))
    raise LookupError(slot)


async def run_all(config: Settings, *names: str) -> dict[str, CheckResult]:
    async with check_runner(config) as scheduler:
        return {name: await run_check(config, "cache", name, scheduler) for name in names}


async def test_every_kind_passes_and_connections_stay_bounded(cluster: RedisCluster) -> None:
    config = settings(cluster.seeds[:1], max_connections=2)  # one seed is enough: the rest is discovered
    async with check_runner(config) as scheduler:
        for _ in range(2):  # the second round judges against what the first remembered
            results = {name: await run_check(config, "cache", name, scheduler) for name in ALL_KINDS}
        await asyncio.gather(*(runner.run(scheduled=False) for runner in scheduler.runners.values()))
        for node in cluster.nodes:  # every kind at once holds at most max_connections per node
            assert 1 <= vigil_connections(node) <= 2
    for name, result in results.items():
        assert result.status is Status.PASS, f"{name}: {result.output}"
    assert results["cluster"].output.startswith("cluster_state:ok, all 16384 slots served by 3 primaries, 3 replicas")
    assert observed(results["cluster"])["slots_served"] == 16384
    assert results["connectivity"].output.startswith("all 3 primaries answer PING; slowest 127.0.0.1:")
    assert observed(results["pool"])["nodes"] == 6 and observed(results["memory"])["nodes"] == 6
    assert observed(results["replication"])["replicas_online"] == 1
    for port in cluster.primary_ports():  # canaries under a hash tag that places them on each primary
        keys = cluster.node(port).cli("KEYS", "vigil:*").split()
        assert any(key.endswith(":cache:session_ttl:survival") for key in keys), (port, keys)


async def test_the_cluster_example_passes_against_a_real_cluster(
    cluster: RedisCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIGIL_COMPONENTS__CACHE__CLUSTER", json.dumps({"seeds": cluster.seeds}))  # as run-local.sh
    config = load_settings(EXAMPLE)
    names = list(config.components["cache"].checks)
    assert sorted(names) == sorted(ALL_KINDS)
    for name, result in (await run_all(config, *names)).items():
        assert result.status is Status.PASS, f"{name}: {result.output}"


async def test_a_node_near_its_maxmemory_is_named_the_others_fine(cluster: RedisCluster) -> None:
    node = primary_of_slot(cluster, 0)
    client = redis.Redis(port=node.port)
    try:
        tag = next(f"{{f{i}}}" for i in range(100_000) if owns_slot(cluster, node, f"{{f{i}}}"))
        for i in range(200):
            client.set(f"fill:{tag}:{i}", b"x" * 10_000)
        used = int(parse_info(node.cli("INFO", "memory"))["used_memory"])
        node.cli("CONFIG", "SET", "maxmemory", str(int(used / 0.85)))
        result = (await run_all(settings(cluster.seeds), "memory"))["memory"]
    finally:
        node.cli("CONFIG", "SET", "maxmemory", "0")
        client.flushall()
        client.close()
    assert result.status is Status.WARN
    where = f"127.0.0.1:{node.port}"
    assert re.fullmatch(
        rf"{where}: memory at \d+% of maxmemory \(.*\), at or above the 80% warn threshold", result.output
    )
    assert result.output.count("127.0.0.1:") == 1  # the others are fine
    assert observed(result)["node"] == where and observed(result)["memory_limit_source"] == "maxmemory"


async def test_priority_keys_are_looked_up_on_the_primary_that_owns_them(cluster: RedisCluster) -> None:
    subprocess.run(["redis-cli", "-c", "-p", str(cluster.nodes[0].port), "SET", "feature:flags", "on"], check=True)
    missing = "ratelimit:config"
    owner = primary_of_slot(cluster, int(cluster.nodes[0].cli("CLUSTER", "KEYSLOT", missing)))
    checks = {"memory": {"priority_keys": ["feature:flags", missing]}}
    result = (await run_all(settings(cluster.seeds, checks), "memory"))["memory"]
    assert result.status is Status.FAIL
    assert result.output == f"127.0.0.1:{owner.port}: priority key {missing} missing"


def owns_slot(cluster: RedisCluster, node: RedisServer, key: str) -> bool:
    slot = int(node.cli("CLUSTER", "KEYSLOT", key))
    return primary_of_slot(cluster, slot) is node


async def test_a_hung_node_is_named_without_holding_the_others_back(cluster: RedisCluster) -> None:
    replica = cluster.replica_of(cluster.primary_ports()[0])
    checks = {
        "pool": {"timeout": "3s", "interval": "10s"},  # the node's socket timeout comes first
        "memory": {"timeout": "1050ms", "interval": "10s"},  # the node's share of the check's time comes first
    }
    config = settings(cluster.seeds, checks, socket_timeout="1s")
    async with check_runner(config) as scheduler:
        assert (await run_check(config, "cache", "pool", scheduler)).status is Status.PASS
        replica.pause()
        try:
            result = await run_check(config, "cache", "pool", scheduler)
            cut = await run_check(config, "cache", "memory", scheduler)
        finally:
            replica.resume()
    cluster.wait_converged()
    assert result.status is Status.FAIL
    where = f"127.0.0.1:{replica.port}"
    assert result.output == f"Redis at {where} did not answer INFO within the 1 s socket timeout", result.output
    assert observed(result)["nodes"] == 6 and observed(result)["node"] != where  # the others' answers are in
    assert result.duration < within(3.0)
    assert cut.status is Status.FAIL
    assert re.fullmatch(rf"Redis at {where} did not answer within [\d.]+ ms, its time in this run", cut.output)
    assert observed(cut)["nodes"] == 6 and cut.duration < within(1.05)


async def test_a_killed_primary_fails_its_slots_until_its_replica_takes_over(cluster: RedisCluster) -> None:
    port = cluster.primary_ports()[1]
    victim, replica = cluster.node(port), cluster.replica_of(port)
    ranges = " ".join(line.split()[8] for line in victim.cli("CLUSTER", "NODES").splitlines() if "myself" in line)
    victim.kill()
    try:
        cluster.wait_state("fail")
        failed = await run_all(settings(cluster.seeds), "cluster", "connectivity")
        replica.cli("CLUSTER", "FAILOVER", "TAKEOVER")
        cluster.wait_state("ok")
        after = await run_all(settings(cluster.seeds), "cluster", "pool")
        promoted = after["cluster"]
    finally:
        victim.start()  # it comes back as a replica of the node that took over
        cluster.wait_converged()
    where = f"127.0.0.1:{port}"
    assert failed["cluster"].status is Status.FAIL
    assert failed["cluster"].output.startswith(f"slots {ranges} have no serving primary (node {where} failed)")
    assert failed["connectivity"].status is Status.FAIL and where in failed["connectivity"].output
    assert promoted.status is Status.WARN, promoted.output
    assert f"primary 127.0.0.1:{replica.port} (slots {ranges}) has no replica, 1 required" in promoted.output
    assert "33% of the slots have no replica" in promoted.output
    assert f"primary {where} is flagged fail by the cluster" in promoted.output
    assert after["pool"].status is Status.PASS and observed(after["pool"])["nodes"] == 5  # the dead node is skipped
    healed = (await run_all(settings(cluster.seeds), "cluster"))["cluster"]
    assert healed.status is Status.PASS, healed.output


async def test_an_unassigned_slot_range_fails_naming_it() -> None:
    partial = RedisCluster(3, 0).start_partial([(0, 5460), (5461, 10922)])
    try:
        results = await run_all(settings(partial.seeds[2:]), "cluster", "connectivity")
    finally:
        partial.cleanup()
    assert results["cluster"].status is Status.FAIL
    assert results["cluster"].output.startswith("slots 10923-16383 are not assigned to any node (5461 of 16384)")
    assert observed(results["cluster"])["slots_unassigned"] == 5461
    assert results["connectivity"].status is Status.PASS  # the two primaries that own slots answer


async def test_seeds_that_are_no_cluster_fail_clearly_and_secrets_stay_out(
    cluster: RedisCluster, redis_server: RedisServer
) -> None:
    secret = "cluster-secret-never-shown"
    nowhere = f"127.0.0.1:{free_port()}"
    lone = f"127.0.0.1:{redis_server.port}"
    wrong = await run_all(settings(cluster.seeds, username="nobody", password=secret), *ALL_KINDS)
    for name, result in wrong.items():
        assert result.status is Status.FAIL and secret not in result.output, (name, result.output)
    assert wrong["cluster"].output.startswith("no node of the Redis cluster answered CLUSTER NODES: redis refused")
    refused = (await run_all(settings([nowhere]), "cluster"))["cluster"]
    assert refused.output == (
        f"no node of the Redis cluster answered CLUSTER NODES: cannot reach Redis at {nowhere}: connection refused"
    )
    single = (await run_all(settings([lone]), "connectivity"))["connectivity"]
    assert single.status is Status.FAIL
    assert single.output.startswith("no node of the Redis cluster answered CLUSTER NODES: redis refused a command:")
    assert "cluster support disabled" in single.output
