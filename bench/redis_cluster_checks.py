"""What each `redis` check costs on a Redis Cluster, and how many connections Vigil holds on its nodes.

Starts a private cluster (3 primaries, 3 replicas, AOF on), runs every kind N times through the real scheduler path
and reads `INFO commandstats` of every node around each run (CONFIG RESETSTAT before; the harness's own commands
left out). Then runs every kind at once, N rounds, and counts each node's normal client connections (CLIENT LIST, but
the harness's own) against the bound, max_connections per node. Prints a markdown table and writes
bench/RESULTS-redis-cluster.md.

    .venv/bin/python bench/redis_cluster_checks.py [--runs 20] [--max-connections 2]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis

from app.model import CheckResult
from devenv.rediscluster import RedisCluster
from tests.conftest import check_runner, make_settings

CHECKS: dict[str, dict[str, Any]] = {
    "cluster": {},
    "connectivity": {},
    "pool": {},
    "memory": {},
    "session_ttl": {},
    "replication": {"min_replicas": 1},
}
HARNESS = {"config|resetstat"}  # the harness's own (INFO does not count itself)


def commands(admins: list[redis.Redis]) -> int:
    """Commands run on every node since the last reset."""
    total = 0
    for admin in admins:
        for name, values in admin.info("commandstats").items():
            if name.removeprefix("cmdstat_") not in HARNESS:
                total += int(values["calls"])
    return total


def vigil_connections(admin: redis.Redis) -> int:
    """Normal client connections but the harness's own (a replica's link to its primary is flagged M or S)."""
    clients = admin.client_list()
    return sum(1 for c in clients if c["flags"] == "N" and c["cmd"] != "client|list")


async def measure(cluster: RedisCluster, runs: int, max_connections: int) -> tuple[list[dict[str, Any]], int]:
    admins = [redis.Redis(host="127.0.0.1", port=node.port, socket_timeout=30) for node in cluster.nodes]
    component = {"type": "redis", "cluster": {"seeds": cluster.seeds}, "max_connections": max_connections}
    settings = make_settings(components={"bench": {**component, "checks": CHECKS}})
    rows = []
    async with check_runner(settings) as scheduler:
        for check in CHECKS:
            runner = scheduler.runners[("bench", check)]
            await runner.run(scheduled=False)  # connections made, memo baselines taken
            wall, calls = [], []
            result: CheckResult | None = None
            for _ in range(runs):
                for admin in admins:
                    admin.config_resetstat()
                started = time.perf_counter()
                result = await runner.run(scheduled=False)
                wall.append(time.perf_counter() - started)
                calls.append(commands(admins))
            assert result is not None
            rows.append(
                {
                    "check": check,
                    "status": result.status.value,
                    "commands": statistics.mean(calls),
                    "wall_ms": statistics.median(wall) * 1000,
                    "output": result.output,
                }
            )
        peak = 0
        for _ in range(runs):  # every kind at once: the most connections one component holds
            await asyncio.gather(*(runner.run(scheduled=False) for runner in scheduler.runners.values()))
            for admin in admins:
                peak = max(peak, vigil_connections(admin))
    for admin in admins:
        admin.close()
    return rows, peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--max-connections", type=int, default=2)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    started = time.perf_counter()
    cluster = RedisCluster(appendonly=True).start()
    setup = time.perf_counter() - started
    try:
        rows, peak = asyncio.run(measure(cluster, args.runs, args.max_connections))
    finally:
        cluster.cleanup()
    nodes = len(cluster.nodes)
    lines = [
        "# Cost of the redis checks on a Redis Cluster",
        "",
        f"Command: `.venv/bin/python bench/redis_cluster_checks.py --runs {args.runs} "
        f"--max-connections {args.max_connections}`",
        "",
        f"A private cluster of {nodes} redis-server 7.0.15 nodes on loopback (3 primaries, 3 replicas, AOF on), "
        f"started in {setup:.1f} s; Python {platform.python_version()}, redis-py with hiredis; "
        f"{datetime.now(UTC):%Y-%m-%d}; a shared 2-core machine under other load, so times drift: compare within a run.",
        "",
        "Commands: every command every node ran during one run of the check (pipelines counted per command), mean "
        f"over {args.runs} runs after a warm-up; wall time: median.",
        "",
        "| check | status | commands / run (all nodes) | wall time / run (ms) |",
        "|---|---|---:|---:|",
    ]
    lines += [f"| {r['check']} | {r['status']} | {r['commands']:.1f} | {r['wall_ms']:.2f} |" for r in rows]
    lines += [
        "",
        f"Connections: with every kind running at once ({args.runs} rounds), the most client connections seen on any "
        f"node was {peak}; the bound is max_connections = {args.max_connections} per node "
        f"({nodes} x {args.max_connections} = {nodes * args.max_connections} for the component).",
        "",
        "Outputs of the last run:",
        "",
        *[f"- `{r['check']}`: {r['output']}" for r in rows],
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    (ROOT / "bench" / "RESULTS-redis-cluster.md").write_text(text)


if __name__ == "__main__":
    main()
