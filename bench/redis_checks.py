"""What each `redis` check costs the Redis it watches: server-side time and commands per run.

Starts a private redis-server holding 1,000,000 session keys (DEBUG POPULATE), runs every check N times through
the real scheduler path, and reads `INFO commandstats` around each run (reset before with CONFIG RESETSTAT, which
is left out of the figures; INFO does not count itself). Prints a markdown table and writes bench/RESULTS-redis.md.

    .venv/bin/python bench/redis_checks.py [--runs 50] [--keys 1000000]
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
from devenv.servers import RedisServer
from tests.conftest import check_runner, make_settings

CHECKS: dict[str, dict[str, Any]] = {
    "connectivity": {},
    "pool": {},
    "session_ttl": {},  # defaults: SCAN COUNT 100, 1000 keys, 250 ms
    "memory": {"priority_keys": ["feature:flags", "ratelimit:*"]},  # measured once the pattern has a witness
    "memory-search": {"kind": "memory", "priority_keys": ["feature:flags", "nosuch:*"]},  # a pattern never found
}
BENCH_COMMANDS = {"config|resetstat"}  # the harness's own


def commandstats(client: redis.Redis) -> dict[str, tuple[int, int]]:
    """command -> (calls, usec) since the last CONFIG RESETSTAT."""
    stats = client.info("commandstats")
    out = {}
    for name, values in stats.items():
        command = name.removeprefix("cmdstat_")
        if command not in BENCH_COMMANDS:
            out[command] = (int(values["calls"]), int(values["usec"]))
    return out


async def measure(server: RedisServer, runs: int) -> list[dict[str, Any]]:
    admin = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=30)
    settings = make_settings(
        components={"bench": {"type": "redis", "url": server.url, "checks": CHECKS}},
    )
    rows = []
    async with check_runner(settings) as scheduler:
        for check in CHECKS:
            runner = scheduler.runners[("bench", check)]
            warm = await runner.run(scheduled=False)  # connection made, memo baselines taken
            for _ in range(5000):  # `memory`: until its pattern search found a key, then one EXISTS per run
                if check != "memory" or {o.name: o.value for o in warm.observed}.get("scan_calls") == 0:
                    break
                warm = await runner.run(scheduled=False)
            calls, usec, wall = [], [], []
            per_command: dict[str, int] = {}
            result: CheckResult | None = None
            for _ in range(runs):
                admin.config_resetstat()
                started = time.perf_counter()
                result = await runner.run(scheduled=False)
                wall.append(time.perf_counter() - started)
                stats = commandstats(admin)
                calls.append(sum(c for c, _ in stats.values()))
                usec.append(sum(u for _, u in stats.values()))
                for command, (count, _) in stats.items():
                    per_command[command] = per_command.get(command, 0) + count
            assert result is not None
            observed = {o.name: o.value for o in result.observed}
            rows.append(
                {
                    "check": check,
                    "status": result.status.value,
                    "calls": statistics.mean(calls),
                    "usec": statistics.mean(usec),
                    "usec_max": max(usec),
                    "wall_ms": statistics.mean(wall) * 1000,
                    "keys": observed.get("sessions_sampled", ""),
                    "mix": ", ".join(f"{cmd.replace('|', ' ')} {n / runs:g}" for cmd, n in sorted(per_command.items())),
                }
            )
    admin.close()
    return rows


def table(rows: list[dict[str, Any]], runs: int) -> str:
    lines = [
        (
            "| check | status | commands / run | Redis time / run (µs, mean) | max (µs) | wall time / run (ms) "
            "| session keys examined / run | commands (per run) |"
        ),
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['check']} | {r['status']} | {r['calls']:.1f} | {r['usec']:.0f} | {r['usec_max']} | "
            f"{r['wall_ms']:.2f} | {r['keys']} | {r['mix']} |"
        )
    return "\n".join(lines) + f"\n\nMeans over {runs} runs per check after warm-up."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS-redis.md alone")
    args = parser.parse_args()

    logging.getLogger("vigil").setLevel(logging.ERROR)  # the check transitions are not the report
    server = RedisServer(extra=["--enable-debug-command", "yes", "--save", "3600 1"]).start()
    try:
        started = time.perf_counter()
        server.cli("DEBUG", "POPULATE", str(args.keys), "session:", "16")
        server.cli("SET", "feature:flags", "on")
        server.cli("SET", "ratelimit:api", "100")
        populate = time.perf_counter() - started
        version = server.cli("INFO", "server").split("redis_version:")[1].split()[0]
        rows = asyncio.run(measure(server, args.runs))
    finally:
        server.cleanup()

    command = f".venv/bin/python bench/redis_checks.py --runs {args.runs} --keys {args.keys}"
    report = table(rows, args.runs)
    print(report)
    if args.no_write:
        return
    (ROOT / "bench" / "RESULTS-redis.md").write_text(
        "# Cost of the redis checks on the Redis they watch\n\n"
        f"Command: `{command}`\n\n"
        f"redis-server {version} on loopback, {args.keys:,} keys `session:N` from `DEBUG POPULATE` (16-byte values, "
        f"no TTL, so `session_ttl` reports them as leaks: a fail, at full sampling cost), plus `feature:flags` and "
        f"`ratelimit:api` as priority data; populated in {populate:.1f} s. Python {platform.python_version()}, "
        f"redis-py with hiredis, {datetime.now(UTC):%Y-%m-%d}.\n\n"
        "Redis time is the sum of `usec` over `INFO commandstats`, reset with `CONFIG RESETSTAT` before each run "
        "(the harness's own commands are left out). Commands count each command of a pipeline.\n\n"
        f"{report}\n\n"
        "Check options: defaults (`session_ttl`: SCAN COUNT 100, max_keys 1000, scan_time 250 ms). `memory` has "
        "`priority_keys: [feature:flags, ratelimit:*]` and is measured in its steady state, once the pattern search "
        "has found a matching key (then one EXISTS per run). `memory-search` has `priority_keys: [feature:flags, "
        "nosuch:*]`: a pattern that matches nothing, so every run spends its whole SCAN budget (10 x COUNT 100) and "
        "warns; that is the worst case of a pattern search.\n"
    )


if __name__ == "__main__":
    main()
