"""The `replication` check on a real primary + replica pair (a second redis-server started with --replicaof):
a healthy link, a broken one (primary stopped), a replica falling behind, and a primary short of replicas.

No mocks: every state is the servers' own, reached by stopping, pausing or filling them.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Iterator
from typing import Any

import redis

from app.model import Status
from devenv.servers import RedisServer, wait_for
from tests.checks.test_redis import info_field, info_text, observed, run, settings_for, sync_client, vigil_keys
from tests.conftest import check_runner, make_settings, redis_component

# A full sync waits repl-diskless-sync-delay (5 s by default) for more replicas to share it; not in tests.
PRIMARY_ARGS = ["--repl-diskless-sync-delay", "0"]


def start_pair(redis_factory: Any, *replica_extra: str) -> tuple[RedisServer, RedisServer]:
    """A primary and a replica of it, once the replica's link is up and its first sync done."""
    primary = redis_factory(extra=PRIMARY_ARGS)
    replica = redis_factory(extra=["--replicaof", "127.0.0.1", str(primary.port), *replica_extra])
    wait_for_link(replica, "up")
    return primary, replica


def wait_for_link(replica: RedisServer, status: str, timeout: float = 10) -> None:
    def linked() -> bool:
        return info_text(replica, "replication", "master_link_status") == status

    wait_for(linked, timeout, f"master_link_status:{status} on port {replica.port}")


def pair_settings(primary: RedisServer, replica: RedisServer, checks: dict[str, Any]) -> Any:
    """Two components, as a deployment pointing at a read endpoint and at the primary would have them."""
    return make_settings(
        components={
            "primary": redis_component(primary.url, checks),
            "replica": redis_component(replica.url, checks),
        }
    )


async def run_on(scheduler: Any, component: str, check: str) -> Any:
    return await scheduler.runners[(component, check)].run(scheduled=False)


@contextlib.contextmanager
def writes_paused(replica: RedisServer, seconds: float = 10) -> Iterator[None]:
    """CLIENT PAUSE WRITE on a replica also holds back the stream from its primary: it keeps reading it (and
    acknowledging the offset it has applied) without applying it. Bounded by `seconds`, lifted on exit."""
    replica.cli("CLIENT", "PAUSE", str(int(seconds * 1000)), "WRITE")
    try:
        yield
    finally:
        replica.cli("CLIENT", "UNPAUSE")


def write_bytes(client: redis.Redis, total: int, prefix: str = "bulk:") -> None:
    payload = b"x" * 16384
    with client.pipeline(transaction=False) as pipe:
        for i in range(total // len(payload) + 1):
            pipe.set(f"{prefix}{i}", payload, ex=600)
        pipe.execute()


async def test_healthy_pair_passes_on_both_ends(redis_factory: Any) -> None:
    primary, replica = start_pair(redis_factory)
    async with check_runner(pair_settings(primary, replica, {"replication": {"min_replicas": 1}})) as scheduler:
        on_replica = await run_on(scheduler, "replica", "replication")
        assert on_replica.status is Status.PASS, on_replica.output
        assert re.fullmatch(
            rf"replica of 127\.0\.0\.1:{primary.port}: link up, last I/O \d+ s ago, 0 B received and not applied yet",
            on_replica.output,
        ), on_replica.output
        values = observed(on_replica)
        assert values["role"] == "replica" and values["master_link_up"] is True
        assert values["replication_lag"] == 0 and 0 <= values["primary_last_io"] <= 11
        assert values["sync_in_progress"] is False

        on_primary = await run_on(scheduler, "primary", "replication")
        assert on_primary.status is Status.PASS, on_primary.output
        assert re.fullmatch(
            # by a few bytes for up to a second after the primary's periodic PING, until the replica acknowledges it
            rf"primary with 1 replica online \(1 required\); most behind: 127\.0\.0\.1:{replica.port} by \d+ B, "
            r"acknowledged \d s ago",
            on_primary.output,
        ), on_primary.output
        values = observed(on_primary)
        assert values["role"] == "primary" and values["replicas_online"] == 1 and values["replicas_connected"] == 1
        assert values["replicas_required"] == 1 and 0 <= values["replication_lag"] < 1024
    assert vigil_keys(primary) == [] and vigil_keys(replica) == []  # the check writes nothing


async def test_broken_link_fails_naming_the_status_and_the_silence(redis_factory: Any) -> None:
    primary, replica = start_pair(redis_factory)
    async with check_runner(settings_for(replica, {"replication": {}})) as scheduler:
        assert (await run(scheduler, "replication")).status is Status.PASS

        primary.terminate()  # the primary stopped: the replica's link drops at once
        wait_for_link(replica, "down")
        wait_for(lambda: info_field(replica, "replication", "master_link_down_since_seconds") >= 1, 5, "1 s down")
        broken = await run(scheduler, "replication")
        assert broken.status is Status.FAIL
        match = re.fullmatch(
            rf"replication link to primary 127\.0\.0\.1:{primary.port} is down \(master_link_status:down\): "
            r"no I/O with the primary for (\d+) s",
            broken.output,
        )
        assert match is not None, broken.output
        values = observed(broken)
        assert values["master_link_up"] is False and values["primary_last_io"] == int(match.group(1)) >= 1

        # The replica keeps serving what it has; the read-only checks still work there.
        sessions = await run_on_check(replica, "session_ttl")
        assert sessions.status is Status.PASS, sessions.output

        await asyncio.to_thread(primary.start)  # same port: the replica reconnects by itself (and resyncs)
        wait_for_link(replica, "up")
        recovered = await run(scheduler, "replication")
        assert recovered.status is Status.PASS, recovered.output


async def run_on_check(server: RedisServer, check: str) -> Any:
    async with check_runner(settings_for(server, {check: {}})) as scheduler:
        return await run(scheduler, check)


async def test_replica_falling_behind_is_seen_on_both_ends(redis_factory: Any) -> None:
    primary, replica = start_pair(redis_factory)
    checks = {"replication": {"lag_bytes_warn": 256 * 1024, "lag_bytes_fail": 64 * 1024 * 1024}}
    client = sync_client(primary)
    async with check_runner(pair_settings(primary, replica, checks)) as scheduler:
        with writes_paused(replica):
            write_bytes(client, 1024 * 1024)  # 1 MiB of writes the replica reads and cannot apply yet

            def read_ahead() -> int:
                received = info_field(replica, "replication", "slave_read_repl_offset")
                return received - info_field(replica, "replication", "slave_repl_offset")

            wait_for(lambda: read_ahead() > 1024 * 1024, 5, "the replica to read the writes")
            behind = await run_on(scheduler, "replica", "replication")
            assert behind.status is Status.WARN
            match = re.fullmatch(
                rf"replica is (1\.0 MiB) behind what it received from primary 127\.0\.0\.1:{primary.port} "
                r"\(slave_read_repl_offset (\d+), slave_repl_offset (\d+)\), at or above the 256\.0 KiB warn threshold",
                behind.output,
            )
            assert match is not None, behind.output
            assert observed(behind)["replication_lag"] == int(match.group(2)) - int(match.group(3)) > 1024 * 1024

            # The primary knows the offset the replica acknowledged (what it applied), and its own.
            def acknowledged_behind() -> bool:
                line = info_text(primary, "replication", "slave0")
                offset = int(re.search(r"offset=(\d+)", line).group(1))  # type: ignore[union-attr]
                return info_field(primary, "replication", "master_repl_offset") - offset > 1024 * 1024

            wait_for(acknowledged_behind, 5, "the primary to see the replica behind")
            seen = await run_on(scheduler, "primary", "replication")
            assert seen.status is Status.WARN
            assert re.fullmatch(
                rf"replica 127\.0\.0\.1:{replica.port} is 1\.0 MiB behind the primary \(offset \d+ of \d+\), "
                r"at or above the 256\.0 KiB warn threshold",
                seen.output,
            ), seen.output
            assert observed(seen)["replication_lag"] > 1024 * 1024

        def caught_up() -> bool:
            return info_field(replica, "replication", "slave_repl_offset") >= info_field(
                primary, "replication", "master_repl_offset"
            )

        wait_for(caught_up, 10, "the replica to catch up")
        assert (await run_on(scheduler, "replica", "replication")).status is Status.PASS
    client.close()


async def test_primary_short_of_replicas_fails(redis_factory: Any) -> None:
    primary, replica = start_pair(redis_factory)
    settings = settings_for(primary, {"replication": {"min_replicas": 2}})
    async with check_runner(settings) as scheduler:
        short = await run(scheduler, "replication")
        assert short.status is Status.FAIL
        assert short.output == "1 of 2 required replicas online (connected_slaves:1)"
        assert observed(short)["replicas_online"] == 1 and observed(short)["replicas_required"] == 2

        replica.terminate()
        wait_for(lambda: info_field(primary, "replication", "connected_slaves") == 0, 5, "the replica to go")
        none = await run(scheduler, "replication")
        assert none.status is Status.FAIL
        assert none.output == "0 of 2 required replicas online (connected_slaves:0)"
        assert observed(none)["replication_lag"] is None and observed(none)["replica_ack_age"] is None


async def test_standalone_redis_needs_no_replicas_by_default(redis_server: RedisServer) -> None:
    async with check_runner(settings_for(redis_server, {"replication": {}})) as scheduler:
        result = await run(scheduler, "replication")
        assert result.status is Status.PASS
        assert result.output == "primary with 0 replicas online (none required)"
