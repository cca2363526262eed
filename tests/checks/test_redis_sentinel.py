"""A `redis` component behind Sentinel, on real processes: a primary, a replica and three Sentinels on loopback
(started once for the module; a scenario that stops something restores it), `vigil check` and a real served app.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.model import CheckId, CheckResult, Status
from devenv.sentinel import FAILOVER_TIMEOUT_MS, MASTER, SentinelTopology
from tests.checks.test_redis import SAVE_POLICY
from tests.conftest import HangingServer, check_runner, make_settings, observed, serve, within
from tests.test_cli import vigil, write

DATA_PASSWORD = "data-node-secret-4d1f"
SENTINEL_PASSWORD = "sentinel-secret-9b2e"
DATA_CHECKS = ("connectivity", "pool", "session_ttl", "memory", "replication")
TIMEOUTS = {"connect_timeout": "500ms", "socket_timeout": "500ms", "pool_timeout": "250ms"}


@pytest.fixture(scope="module")
def topology() -> Iterator[SentinelTopology]:
    started = SentinelTopology(DATA_PASSWORD, SENTINEL_PASSWORD, node_extra=SAVE_POLICY).start()
    yield started
    started.cleanup()


def component(addresses: list[str], checks: dict[str, Any], **sentinel: Any) -> dict[str, Any]:
    return {
        "type": "redis",
        "password": DATA_PASSWORD,
        "sentinel": {"master": MASTER, "addresses": addresses, "password": SENTINEL_PASSWORD, **sentinel},
        **TIMEOUTS,
        "checks": checks,
    }


def every_check() -> dict[str, Any]:
    return {name: {} for name in (*DATA_CHECKS, "sentinel")}


def assert_no_secret(text: str) -> None:
    assert DATA_PASSWORD not in text and SENTINEL_PASSWORD not in text


async def run(scheduler: Any, check: str) -> CheckResult:
    result: CheckResult = await scheduler.runners[CheckId("sessions", check)].run(scheduled=False)
    assert_no_secret(result.output + repr(result.observed))
    return result


def test_vigil_check_passes_every_kind_against_the_primary_and_shows_no_secret(
    topology: SentinelTopology, tmp_path: Path
) -> None:
    primary = f"127.0.0.1:{topology.primary_port()}"
    config = write(tmp_path, {"components": {"sessions": component(topology.addresses, every_check())}})
    done = vigil("check", "--format", "json", "--config", config, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert_no_secret(done.stdout + done.stderr)
    checks = json.loads(done.stdout)["checks"]
    outputs = {name.split(":", 1)[1]: entries[0]["output"] for name, entries in checks.items()}
    assert {name: entries[0]["status"] for name, entries in checks.items()} == {
        f"sessions:{name}": "pass" for name in (*DATA_CHECKS, "sentinel")
    }, outputs
    for name in DATA_CHECKS:
        assert outputs[name].endswith(f" (primary of {MASTER}: {primary})"), outputs[name]
    assert outputs["sentinel"] == (
        f"3 of 3 Sentinels (quorum 2) agree: the primary of {MASTER} is {primary}, with 1 replica up"
    )
    shown = vigil("config", "show", "--config", config)
    assert shown.returncode == 0 and "sentinel" in shown.stdout
    assert_no_secret(shown.stdout + shown.stderr)


async def test_role_replica_reads_a_replica_the_sentinels_name(topology: SentinelTopology) -> None:
    replica = next(node for node in topology.nodes if node.port != topology.primary_port())
    checks = {"connectivity": {}, "session_ttl": {}}
    settings = make_settings(components={"sessions": component(topology.addresses, checks, role="replica")})
    async with check_runner(settings) as scheduler:
        reached = await run(scheduler, "connectivity")
        assert reached.status is Status.PASS, reached.output
        assert reached.output.endswith(f" (replica of {MASTER}: 127.0.0.1:{replica.port})")
        assert observed(reached)["redis_address"] == f"127.0.0.1:{replica.port}"
        sampled = await run(scheduler, "session_ttl")
        assert sampled.status is Status.PASS, sampled.output
        assert "read-only mode: sampling only, no canary writes" in sampled.output
        assert observed(sampled)["read_only"] is True


async def test_two_sentinels_stopped_fail_the_quorum_naming_them(topology: SentinelTopology) -> None:
    checks = {"connectivity": {}, "sentinel": {}}
    settings = make_settings(components={"sessions": component(topology.addresses, checks)})
    stopped = topology.sentinels[1:]
    async with check_runner(settings) as scheduler:
        assert (await run(scheduler, "sentinel")).status is Status.PASS
        try:
            for sentinel in stopped:
                sentinel.terminate()
            quorum = await run(scheduler, "sentinel")
            assert quorum.status is Status.FAIL
            assert quorum.output.startswith(
                f"only 1 of 3 Sentinels of {MASTER} answered, fewer than its quorum of 2: no failover can be "
                "authorised; "
            ), quorum.output
            for sentinel in stopped:
                assert f"cannot reach Sentinel at {sentinel.address}: connection refused" in quorum.output
            assert observed(quorum)["sentinels_reachable"] == 1
            # The data checks do not need a quorum: the remaining Sentinel still names the primary.
            assert (await run(scheduler, "connectivity")).status is Status.PASS
        finally:
            for sentinel in stopped:
                sentinel.start()
            await asyncio.to_thread(topology.wait_settled, 30)
        assert (await run(scheduler, "sentinel")).status is Status.PASS


async def test_wrong_or_missing_credentials_are_named_never_shown(topology: SentinelTopology) -> None:
    wrong = component(topology.addresses, {"connectivity": {}, "sentinel": {}}, password="not-the-sentinel-pass")
    missing = component(topology.addresses, {"connectivity": {}})
    del missing["sentinel"]["password"]
    bad_data = {**component(topology.addresses, {"connectivity": {}}), "password": "not-the-data-pass"}
    settings = make_settings(components={"sessions": wrong, "nopass": missing, "baddata": bad_data})
    async with check_runner(settings) as scheduler:
        refused = await run(scheduler, "connectivity")
        assert refused.status is Status.FAIL
        assert refused.output.startswith(f"no Sentinel of {MASTER} named a primary it sees up: ")
        for address in topology.addresses:
            assert f"Sentinel at {address} refused Vigil's credentials: " in refused.output
        assert "not-the-sentinel-pass" not in refused.output
        asked = await run(scheduler, "sentinel")
        assert asked.status is Status.FAIL and asked.output.startswith(f"no Sentinel of {MASTER} answered: ")
        unasked = await scheduler.runners[CheckId("nopass", "connectivity")].run(scheduled=False)
        assert f"Sentinel at {topology.addresses[0]} requires authentication and sentinel.password is not set" in (
            unasked.output
        )
        data = await scheduler.runners[CheckId("baddata", "connectivity")].run(scheduled=False)
        assert data.status is Status.FAIL
        assert data.output.startswith("redis refused Vigil's credentials: "), data.output
        assert "not-the-data-pass" not in data.output


async def test_no_sentinel_answering_fails_within_the_connect_timeout(
    refused_port: int, hanging_server: HangingServer
) -> None:
    addresses = [f"127.0.0.1:{refused_port}", f"127.0.0.1:{hanging_server.port}"]
    settings = make_settings(
        components={"sessions": component(addresses, {"connectivity": {}, "sentinel": {}})},
        defaults={"timeout": "2s", "interval": "5s"},
    )
    async with check_runner(settings) as scheduler:
        started = time.monotonic()
        lost = await run(scheduler, "connectivity")
        assert time.monotonic() - started < within(0.5)  # the Sentinels are asked within connect_timeout
        assert lost.status is Status.FAIL
        assert lost.output == (
            f"no Sentinel of {MASTER} named a primary it sees up: "
            f"cannot reach Sentinel at 127.0.0.1:{refused_port}: connection refused; "
            f"Sentinel at 127.0.0.1:{hanging_server.port} did not answer SENTINEL MASTER within the 500 ms connect timeout"
        )
        asked = await run(scheduler, "sentinel")
        assert asked.status is Status.FAIL
        assert asked.output.startswith(f"no Sentinel of {MASTER} answered: cannot reach Sentinel at ")
        assert f"127.0.0.1:{hanging_server.port}" in asked.output


async def test_the_run_after_a_manual_failover_talks_to_the_new_primary(topology: SentinelTopology) -> None:
    settings = make_settings(components={"sessions": component(topology.addresses, every_check())})
    async with check_runner(settings) as scheduler:
        old = topology.primary_port()
        for name in (*DATA_CHECKS, "sentinel"):
            assert (await run(scheduler, name)).status is Status.PASS
        topology.node(old).cli("WAIT", "1", "5000")
        assert topology.sentinels[0].cli("SENTINEL", "FAILOVER", MASTER) == "OK"
        new = await asyncio.to_thread(topology.wait_failover, old, within(FAILOVER_TIMEOUT_MS / 1000))
        # Sentinel demotes the old primary and kills its clients in one transaction: once it is a replica, Vigil's
        # pooled connections to it are gone, and the next connection asks the Sentinels.
        await asyncio.to_thread(topology.wait_role, old, "slave", within(FAILOVER_TIMEOUT_MS / 1000))
        for name in DATA_CHECKS:  # no run in between fails: the very next one talks to the new primary
            result = await run(scheduler, name)
            # replication may warn while the old primary, now its replica, syncs from it
            assert result.status is Status.PASS or (name, result.status) == ("replication", Status.WARN), result.output
            assert result.output.endswith(f" (primary of {MASTER}: 127.0.0.1:{new})"), result.output
            if name == "session_ttl":  # the canary was replicated (WAIT above): it moved, nothing restarted
                assert f"canary survived the failover from 127.0.0.1:{old} to 127.0.0.1:{new}" in result.output
        report = await run(scheduler, "sentinel")
        assert report.status is Status.WARN
        assert f"ago: the primary of {MASTER} moved from 127.0.0.1:{old} to 127.0.0.1:{new}" in report.output
    await asyncio.to_thread(topology.wait_settled, within(FAILOVER_TIMEOUT_MS / 1000))


async def test_a_failover_is_followed_and_reported_by_a_running_vigil(
    topology: SentinelTopology, caplog: pytest.LogCaptureFixture
) -> None:
    """Last in the module: the old primary stays down."""
    interval = 2.0
    schedule = {"interval": f"{interval}s", "timeout": "1500ms", "failure_threshold": 1, "success_threshold": 1}
    settings = make_settings(
        components={"sessions": component(topology.addresses, every_check())},
        defaults={**schedule, "jitter": 0},
        server={"show_details": "always"},
    )
    old = topology.primary_port()
    async with serve(settings) as served:
        states = {name: served.store.states[CheckId("sessions", name)] for name in (*DATA_CHECKS, "sentinel")}

        def passing(names: tuple[str, ...], port: int) -> bool:
            return all(
                (last := states[name].last) is not None
                and last.status is Status.PASS
                and last.output.endswith(f"127.0.0.1:{port})")
                for name in names
            )

        await served.wait(lambda: passing(DATA_CHECKS, old), within(interval * 2), "every data check to pass")
        topology.node(old).cli("WAIT", "1", "5000")  # the canaries are on the replica before the primary goes
        topology.node(old).kill()
        new = await asyncio.to_thread(topology.wait_failover, old, within(FAILOVER_TIMEOUT_MS / 1000))
        assert new != old
        await served.wait(
            lambda: passing(DATA_CHECKS, new),
            within(FAILOVER_TIMEOUT_MS / 1000 + interval),
            "the data checks to pass against the new primary",
        )
        moved = f"the primary of {MASTER} moved from 127.0.0.1:{old} to 127.0.0.1:{new}"
        await served.wait(
            lambda: (last := states["sentinel"].last) is not None and moved in last.output,
            within(interval * 2),
            "the sentinel check to report the failover",
        )
        sentinel = states["sentinel"].last
        assert sentinel is not None and sentinel.status is Status.WARN
        assert f"ago: {moved}" in sentinel.output
        status, body, _ = await served.get("/health")
        assert status == 200
        assert moved in body
        assert_no_secret(body)
    assert "no Sentinel of mymaster named a primary it sees up" in caplog.text or "lost Redis at" in caplog.text
    assert_no_secret(caplog.text)
