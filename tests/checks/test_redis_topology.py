"""The `redis` checks on real topologies: a read replica, a Redis out of memory, and Vigil replicas sharing the
restart canary of one Redis. Real redis-server processes throughout; no mocks.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from prometheus_client.parser import text_string_to_metric_families

from app.model import Status
from devenv.servers import RedisServer, free_port, wait_for
from tests.checks.test_redis import SAVE_POLICY, info_field, observed, run, settings_for, sync_client, vigil_keys
from tests.checks.test_redis_replication import run_on, start_pair
from tests.conftest import check_runner, make_settings, redis_component

NO_PERSISTENCE = "no persistence (AOF off, no RDB save points): sessions will not survive a restart"
SURVIVAL_KEY = "vigil:cache:session_ttl:survival"


# -- a read replica -------------------------------------------------------------------------------------------


async def test_session_ttl_on_a_replica_samples_read_only_and_passes(redis_factory: Any) -> None:
    primary, replica = start_pair(redis_factory)
    client = sync_client(primary)
    with client.pipeline(transaction=False) as pipe:
        for i in range(50):
            pipe.set(f"session:{i}", "x", ex=3600)
        pipe.execute()
    wait_for(lambda: int(replica.cli("DBSIZE")) == 50, 5, "the sessions to reach the replica")
    with pytest.raises(redis.exceptions.ReadOnlyError):  # what a canary write would meet there
        sync_client(replica).set("vigil:probe", "1")

    settings = make_settings(
        components={"replica": redis_component(replica.url, {"session_ttl": {}, "memory": {}, "pool": {}})}
    )
    async with check_runner(settings) as scheduler:
        result = await run_on(scheduler, "replica", "session_ttl")
        assert result.status is Status.PASS, result.output
        assert result.output == (
            f"replica of 127.0.0.1:{primary.port}, read-only mode: sampling only, no canary writes; "
            "50 sampled session keys all expire within 7d; persistence: AOF off, RDB save off"
        )
        values = observed(result)
        assert values["read_only"] is True and values["canary_ttl_drift"] is None
        assert values["sessions_sampled"] == 50

        # memory and pool only read: they work on a replica as they do on a primary.
        for check in ("memory", "pool"):
            other = await run_on(scheduler, "replica", check)
            assert other.status is Status.PASS, other.output

        client.set("session:leak", "x")  # written on the primary, seen on the replica
        wait_for(lambda: replica.cli("EXISTS", "session:leak") == "1", 5, "the leak to reach the replica")
        leak = await run_on(scheduler, "replica", "session_ttl")
        assert leak.status is Status.FAIL
        assert leak.output == (
            "1 of 51 sampled session keys (session:*) have no expiry: they never expire (a session leak); "
            f"replica of 127.0.0.1:{primary.port}, read-only mode: sampling only, no canary writes"
        )

        # Promoted (a failover): the same check writes its canaries from the next run on.
        replica.cli("REPLICAOF", "NO", "ONE")
        client.delete("session:leak")
        replica.cli("DEL", "session:leak")
        promoted = await run_on(scheduler, "replica", "session_ttl")
        assert promoted.status is Status.WARN  # a primary without persistence now: that is news
        assert promoted.output == NO_PERSISTENCE
        assert observed(promoted)["read_only"] is False
        assert sorted(vigil_keys(replica)) == ["vigil:replica:session_ttl:survival", "vigil:replica:session_ttl:ttl"]
    assert vigil_keys(primary) == []
    client.close()


# -- out of memory --------------------------------------------------------------------------------------------


def fill_until_refused(client: redis.Redis, limit: int = 5000) -> int:
    """Write 8 KiB values until the server refuses with OOM; how many it took (bounded by `limit`)."""
    payload = b"x" * 8192
    for i in range(limit):
        try:
            client.set(f"fill:{i}", payload)
        except redis.exceptions.OutOfMemoryError:
            return i
    raise AssertionError(f"still accepting writes after {limit} values")


async def test_out_of_memory_under_noeviction_reads_as_refused_writes(redis_factory: Any) -> None:
    server = redis_factory(extra=["--maxmemory", "2mb", "--maxmemory-policy", "noeviction", *SAVE_POLICY])
    client = sync_client(server)
    for i in range(10):
        client.set(f"session:{i}", "x", ex=3600)
    checks: dict[str, Any] = {"session_ttl": {}, "connectivity": {}}
    async with check_runner(settings_for(server, checks)) as scheduler:
        assert (await run(scheduler, "session_ttl")).status is Status.PASS
        assert fill_until_refused(client) > 0
        # At the very edge a small write still gets through now and then (a freed query buffer is room again):
        # pin the server firmly over its limit, as more data would.
        used = info_field(server, "memory", "used_memory")
        server.cli("CONFIG", "SET", "maxmemory", str(used - 64 * 1024))

        refused = await run(scheduler, "session_ttl")
        assert refused.status is Status.FAIL
        assert (
            refused.output == "Redis is refusing writes: out of memory under noeviction; new sessions cannot be stored"
        )
        assert observed(refused)["canary_ttl_drift"] is None and observed(refused)["sessions_sampled"] == 10
        assert (await run(scheduler, "connectivity")).status is Status.PASS  # reads still work

        client.delete(*[f"fill:{i}" for i in range(5000)])
        recovered = await run(scheduler, "session_ttl")
        assert recovered.status is Status.PASS, recovered.output
        assert "did not survive" not in recovered.output and "vanished" not in recovered.output
    client.close()


# -- Vigil replicas sharing one Redis -------------------------------------------------------------------------


async def test_two_vigils_sharing_the_canary_both_report_the_loss(redis_factory: Any) -> None:
    """After a restart without persistence, the first Vigil to run finds the canary gone and creates the next one;
    the second finds that one, created under the new run_id, and must report the loss all the same."""
    server = redis_factory()
    settings = settings_for(server, {"session_ttl": {"failure_threshold": 1}})
    async with check_runner(settings) as first, check_runner(settings) as second:
        for _ in range(3):  # in steady state they share one canary and never disturb each other
            for vigil in (first, second):
                result = await run(vigil, "session_ttl")
                assert result.output == NO_PERSISTENCE
        known = server.cli("GET", SURVIVAL_KEY)
        assert known.startswith(info_run_id(server) + ":")

        await asyncio.to_thread(server.restart)
        gone = await run(first, "session_ttl")
        assert gone.status is Status.FAIL
        assert gone.output.startswith("session data did not survive the restart of redis at ")
        assert f": canary {SURVIVAL_KEY} is gone; {NO_PERSISTENCE}" in gone.output
        assert gone.latch is not None

        recreated = server.cli("GET", SURVIVAL_KEY)
        assert recreated != known and recreated.startswith(info_run_id(server) + ":")  # the first one's, new run_id
        second_view = await run(second, "session_ttl")
        assert second_view.status is Status.FAIL
        assert second_view.output.startswith("session data did not survive the restart of redis at ")
        assert second_view.output.endswith(
            f": canary {SURVIVAL_KEY} was gone and has been re-created since (by another Vigil sharing it); "
            f"{NO_PERSISTENCE}"
        )
        assert second_view.latch is not None and observed(second_view)["redis_restarted"] is True

        for vigil in (first, second):  # each saw the loss once; from now on the new canary is the known one
            after = await run(vigil, "session_ttl")
            assert after.output == NO_PERSISTENCE


async def test_two_vigils_both_see_the_canary_survive_with_aof(redis_factory: Any) -> None:
    server = redis_factory(appendonly=True)
    settings = settings_for(server, {"session_ttl": {}})
    async with check_runner(settings) as first, check_runner(settings) as second:
        for vigil in (first, second):
            assert (await run(vigil, "session_ttl")).status is Status.PASS
        await asyncio.to_thread(server.restart)
        for vigil in (first, second):
            result = await run(vigil, "session_ttl")
            assert result.status is Status.PASS, result.output
            assert "canary survived a redis restart" in result.output
            assert observed(result)["redis_restarted"] is True


async def test_two_vigils_and_a_canary_deleted_without_restart(redis_factory: Any) -> None:
    server = redis_factory(extra=SAVE_POLICY)
    settings = settings_for(server, {"session_ttl": {}})
    async with check_runner(settings) as first, check_runner(settings) as second:
        for vigil in (first, second):
            assert (await run(vigil, "session_ttl")).status is Status.PASS
        server.cli("DEL", SURVIVAL_KEY)
        first_view = await run(first, "session_ttl")
        assert first_view.output == f"canary {SURVIVAL_KEY} vanished without a restart (evicted or deleted)"
        second_view = await run(second, "session_ttl")
        assert second_view.status is Status.WARN and second_view.latch is None
        assert second_view.output == (
            f"canary {SURVIVAL_KEY} vanished without a restart (evicted or deleted) "
            "and has been re-created since (by another Vigil sharing it)"
        )
        for vigil in (first, second):
            assert (await run(vigil, "session_ttl")).status is Status.PASS


def info_run_id(server: RedisServer) -> str:
    for line in server.cli("INFO", "server").splitlines():
        if line.startswith("run_id:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError("no run_id in INFO server")


# -- two `vigil serve` processes ------------------------------------------------------------------------------


VIGIL = str(Path(sys.executable).with_name("vigil"))


def health_output(port: int) -> str | None:
    """session_ttl's output in a serving Vigil's /health (None while it does not answer yet)."""
    try:
        url = f"http://127.0.0.1:{port}/health/cache/session_ttl"
        with urllib.request.urlopen(url, timeout=1) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:  # 503 while the check fails: the body is the same document
        with exc:
            body = exc.read()
    except OSError:
        return None
    return str(json.loads(body)["checks"]["cache:session_ttl"][0]["output"])


def runs_done(port: int) -> float:
    """How many runs of session_ttl a serving Vigil has finished, by its /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        families = text_string_to_metric_families(response.read().decode())
    return sum(
        s.value
        for family in families
        if family.name == "vigil_check_runs"
        for s in family.samples
        if s.name.endswith("_total") and s.labels.get("check") == "session_ttl"
    )


def watch_outputs(ports: list[int], until: float) -> dict[int, list[str]]:
    """Every distinct session_ttl output each Vigil showed, polled every 50 ms, until the loss was seen by all or
    `until` (monotonic) passed."""
    seen: dict[int, list[str]] = {port: [] for port in ports}
    while time.monotonic() < until:
        for port in ports:
            output = health_output(port)
            if output is not None and (not seen[port] or seen[port][-1] != output):
                seen[port].append(output)
        if all(any("did not survive the restart" in o for o in outputs) for outputs in seen.values()):
            break
        time.sleep(0.05)
    return seen


def test_two_vigil_serve_processes_both_report_the_loss(redis_factory: Any, tmp_path: Path) -> None:
    """The deployment the issue describes: two `vigil serve` replicas, one Redis restarted without persistence."""
    server = redis_factory()
    config = {
        "server": {"show_details": "always"},
        "defaults": {"interval": "1s", "timeout": "800ms", "failure_threshold": 3, "jitter": 0},
        "components": {
            "cache": {
                "type": "redis", "url": server.url, "pool_timeout": "100ms", "connect_timeout": "300ms",
                "socket_timeout": "300ms", "checks": {"session_ttl": {}},
            }
        },
    }  # fmt: skip
    path = tmp_path / "vigil.yaml"
    path.write_text(yaml.safe_dump(config))
    environment = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    ports = [free_port(), free_port()]
    procs = []
    for port in ports:  # half an interval apart, as replicas started at different times run
        procs.append(
            subprocess.Popen(
                [VIGIL, "serve", "--config", str(path), "--host", "127.0.0.1", "--port", str(port)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=environment,
            )
        )  # fmt: skip
        time.sleep(0.5)
    try:

        def first_runs_done() -> bool:
            for proc in procs:
                if proc.poll() is not None:  # it could not start: say why
                    raise AssertionError(f"vigil serve exited {proc.returncode}: {proc.communicate()[1][-2000:]}")
            return all(health_output(p) == NO_PERSISTENCE for p in ports)

        wait_for(first_runs_done, 15, "both Vigils' first runs")
        wait_for(lambda: all(runs_done(p) >= 2 for p in ports), 15, "a second run each")  # both know the canary
        assert [health_output(p) for p in ports] == [NO_PERSISTENCE, NO_PERSISTENCE]

        server.restart()
        seen = watch_outputs(ports, until=time.monotonic() + 10)
        for port, outputs in seen.items():
            losses = [o for o in outputs if "did not survive the restart" in o]
            assert losses, f"Vigil on :{port} never reported the loss: {outputs}"
            assert losses[0].startswith("session data did not survive the restart of redis at ")
        # The first to run after the restart finds the canary gone; the other, most likely, the one the first
        # re-created (both find it gone when their runs coincide). Either way, each reports the loss.
        reasons = {o.split(f"canary {SURVIVAL_KEY} ", 1)[1] for outs in seen.values() for o in outs if "did not" in o}
        assert f"is gone; {NO_PERSISTENCE}" in reasons
        assert reasons <= {
            f"is gone; {NO_PERSISTENCE}",
            f"was gone and has been re-created since (by another Vigil sharing it); {NO_PERSISTENCE}",
        }
    finally:
        for proc in procs:
            proc.terminate()
        errors = []
        for proc in procs:
            try:
                errors.append(proc.communicate(timeout=10)[1])
            except subprocess.TimeoutExpired:
                proc.kill()
                errors.append(proc.communicate(timeout=5)[1])
    assert [proc.returncode for proc in procs] == [0, 0]
    assert all("Traceback" not in err for err in errors)
