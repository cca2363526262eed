"""A `redis` component behind Sentinel where every process speaks only TLS (`sentinel.tls: true`): a primary, a
replica and three Sentinels on loopback with one self-signed certificate, started once for the module."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from app.model import CheckId, CheckResult, Status
from devenv.sentinel import FAILOVER_TIMEOUT_MS, MASTER, SentinelTopology
from tests.checks.test_redis import SAVE_POLICY
from tests.conftest import check_runner, make_settings, within

DATA_CHECKS = ("connectivity", "pool", "session_ttl", "memory", "replication")
TIMEOUTS = {"connect_timeout": "1s", "socket_timeout": "1s", "pool_timeout": "500ms"}


@pytest.fixture(scope="module")
def topology() -> Iterator[SentinelTopology]:
    started = SentinelTopology(node_extra=SAVE_POLICY, tls=True).start()
    yield started
    started.cleanup()


def component(topology: SentinelTopology, **options: Any) -> dict[str, Any]:
    return {
        "type": "redis",
        "sentinel": {"master": MASTER, "addresses": topology.addresses, "tls": True},
        "tls_ca_file": str(topology.ca_file),
        **TIMEOUTS,
        "checks": {name: {} for name in (*DATA_CHECKS, "sentinel")},
        **options,
    }


async def run(scheduler: Any, check: str, component: str = "sessions") -> CheckResult:
    result: CheckResult = await scheduler.runners[CheckId(component, check)].run(scheduled=False)
    return result


async def test_every_kind_passes_over_tls_and_follows_a_failover(topology: SentinelTopology) -> None:
    settings = make_settings(components={"sessions": component(topology)})
    async with check_runner(settings) as scheduler:
        old = topology.primary_port()
        for name in (*DATA_CHECKS, "sentinel"):
            result = await run(scheduler, name)
            assert result.status is Status.PASS, (name, result.output)
        assert (await run(scheduler, "sentinel")).output == (
            f"3 of 3 Sentinels (quorum 2) agree: the primary of {MASTER} is 127.0.0.1:{old}, with 1 replica up"
        )
        topology.node(old).cli("WAIT", "1", "5000")
        assert topology.sentinels[0].cli("SENTINEL", "FAILOVER", MASTER) == "OK"
        new = await asyncio.to_thread(topology.wait_failover, old, within(FAILOVER_TIMEOUT_MS / 1000))
        await asyncio.to_thread(topology.wait_role, old, "slave", within(FAILOVER_TIMEOUT_MS / 1000))
        moved = await run(scheduler, "connectivity")  # a new TLS connection, to where the Sentinels now point
        assert moved.status is Status.PASS, moved.output
        assert moved.output.endswith(f" (primary of {MASTER}: 127.0.0.1:{new})"), moved.output
    await asyncio.to_thread(topology.wait_settled, within(FAILOVER_TIMEOUT_MS / 1000))


async def test_an_untrusted_certificate_or_plain_text_is_named_per_sentinel(topology: SentinelTopology) -> None:
    untrusted = component(topology)
    del untrusted["tls_ca_file"]  # the system's CAs do not know the self-signed certificate
    plain = component(topology)
    plain["sentinel"] = {**plain["sentinel"], "tls": False}
    settings = make_settings(components={"sessions": untrusted, "plain": plain})
    async with check_runner(settings) as scheduler:
        refused = await run(scheduler, "connectivity")
        assert refused.status is Status.FAIL
        assert refused.output.startswith(f"no Sentinel of {MASTER} named a primary it sees up: "), refused.output
        for address in topology.addresses:
            assert f"the certificate of {address} does not verify: self-signed certificate" in refused.output
        unencrypted = await run(scheduler, "connectivity", "plain")
        assert unencrypted.status is Status.FAIL
        assert unencrypted.output.startswith(f"no Sentinel of {MASTER} named a primary it sees up: "), (
            unencrypted.output
        )
        for address in topology.addresses:  # a TLS port closes a connection that speaks plain text
            assert f"lost Sentinel at {address} during SENTINEL MASTER: connection closed" in unencrypted.output
