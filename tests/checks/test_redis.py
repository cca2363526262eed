"""The `redis` checks against real redis-server processes: connectivity, pool, session_ttl, memory.

Each test puts a private server into the state under test (maxclients, persistence, maxmemory, a restart, a kill)
and asserts the status, the output and the observed values. No mocks.
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from pydantic import ValidationError

from app.checks.redis.memory import MemoryMemo
from app.checks.redis.pool import PoolMemo
from app.checks.redis.server import maxclients_of
from app.config.settings import Settings
from app.engine.scheduler import Scheduler
from app.model import CheckResult, Status
from devenv.servers import RedisServer
from tests.conftest import check_runner, make_settings, run_check

CONFIG_RENAMED = ["--rename-command", "CONFIG", ""]
PASSWORD = "pw-7f3c9a1e-very-secret"


def settings_for(server: RedisServer, checks: dict[str, Any], **component: Any) -> Settings:
    return make_settings(components={"cache": {"type": "redis", "url": server.url, "checks": checks, **component}})


def observed(result: CheckResult) -> dict[str, Any]:
    return {o.name: o.value for o in result.observed}


async def run(scheduler: Scheduler, check: str) -> CheckResult:
    return await scheduler.runners[("cache", check)].run(scheduled=False)


def sync_client(server: RedisServer) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=10, password=server.password)


def info_text(server: RedisServer, section: str, field: str) -> str:
    for line in server.cli("INFO", section).splitlines():
        if line.startswith(f"{field}:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{field} not in INFO {section}")


def info_field(server: RedisServer, section: str, field: str) -> int:
    return int(info_text(server, section, field))


class IdleClients:
    """Raw TCP clients that connect, PING once (so the server has registered them) and then sit idle."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.socks: list[socket.socket] = []

    def open(self, n: int) -> None:
        for _ in range(n):
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            sock.sendall(b"PING\r\n")
            assert sock.recv(64).startswith(b"+PONG")
            self.socks.append(sock)

    def rejected(self) -> bytes:
        """One more connection, which the server must refuse because maxclients is reached."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            return sock.recv(128)

    def close(self) -> None:
        for sock in self.socks:
            sock.close()
        self.socks.clear()


@pytest.fixture
def idle_clients() -> Iterator[Any]:
    opened: list[IdleClients] = []

    def make(server: RedisServer) -> IdleClients:
        opened.append(IdleClients(server.port))
        return opened[-1]

    yield make
    for clients in opened:
        clients.close()


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """The port of a listener that never accepts and whose queue (backlog 0) one connection already fills."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = int(listener.getsockname()[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            yield port


async def wait_until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.02)


def vigil_keys(server: RedisServer) -> list[str]:
    return [k for k in server.cli("--scan", "--pattern", "vigil:*").splitlines() if k]


# -- config ---------------------------------------------------------------------------------------------------


def test_check_kinds_default_to_their_names_and_severities() -> None:
    checks = {"pool": {}, "session_ttl": {}, "memory": {}}
    settings = make_settings(components={"cache": {"type": "redis", "checks": checks}})
    checks = settings.components["cache"].checks
    assert [c.kind for c in checks.values()] == ["pool", "session_ttl", "memory"]
    assert {settings.schedule("cache", name).severity.value for name in checks} == {"degraded"}
    assert checks["session_ttl"].pattern == "session:*"
    assert "allkeys-lru" not in checks["memory"].allowed_policies


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ({"kind": "pool", "warn_ratio": 0.95, "fail_ratio": 0.9}, "warn_ratio must not be above fail_ratio"),
        ({"kind": "memory", "allowed_policies": ["allkeys-lru", "lru"]}, "unknown maxmemory-policy 'lru'"),
        ({"kind": "session_ttl", "min_ttl": "2h", "max_ttl": "1h"}, "min_ttl must be below max_ttl"),
        ({"kind": "session_ttl", "max_keys": 0}, "greater than or equal to 1"),
    ],
)
def test_invalid_options_are_refused(check: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make_settings(components={"cache": {"type": "redis", "checks": {"x": check}}})


def test_key_prefix_must_not_be_empty() -> None:
    """An empty prefix would put Vigil's canaries among the application's own keys."""
    with pytest.raises(ValidationError, match="key_prefix"):
        make_settings(components={"cache": {"type": "redis", "key_prefix": ""}})


# -- connectivity ---------------------------------------------------------------------------------------------


async def test_connectivity_passes(redis_server: RedisServer) -> None:
    result = await run_check(settings_for(redis_server, {"connectivity": {}}), "cache", "connectivity")
    assert result.status is Status.PASS
    assert result.output.startswith("PONG in ") and "from redis 7." in result.output
    values = observed(result)
    assert values["server_version"].startswith("7.")
    assert 0 < values["latency"] < 0.5


async def test_connectivity_slower_than_latency_warn_warns(redis_server: RedisServer) -> None:
    settings = settings_for(redis_server, {"connectivity": {"latency_warn": 0}})
    result = await run_check(settings, "cache", "connectivity")
    assert result.status is Status.WARN
    assert re.fullmatch(r"PING took \d+(\.\d+)? ms, at or above the 0s warn threshold", result.output), result.output


async def test_server_that_never_answers_is_a_socket_timeout(hanging_server: Any) -> None:
    url = f"redis://127.0.0.1:{hanging_server.port}/0"
    timeouts = {"pool_timeout": "100ms", "connect_timeout": "300ms", "socket_timeout": "300ms"}
    settings = make_settings(components={"cache": {"type": "redis", "url": url, **timeouts}})
    result = await run_check(settings, "cache", "connectivity")
    assert result.status is Status.FAIL
    assert result.output == (
        f"Redis at 127.0.0.1:{hanging_server.port} did not answer PING within the 300 ms socket timeout"
    )
    assert result.duration < 1.0


async def test_connect_timeout_is_unreachable(full_backlog: int) -> None:
    """A listener whose accept queue is full drops new SYNs: the connection is never made."""
    url = f"redis://127.0.0.1:{full_backlog}/0"
    timeouts = {"pool_timeout": "100ms", "connect_timeout": "300ms", "socket_timeout": "300ms"}
    settings = make_settings(components={"cache": {"type": "redis", "url": url, **timeouts}})
    result = await run_check(settings, "cache", "connectivity")
    assert result.status is Status.FAIL
    assert (
        result.output == f"cannot reach Redis at 127.0.0.1:{full_backlog}: no answer within the 300 ms connect timeout"
    )
    assert result.duration < 1.0


async def test_connectivity_with_password(redis_factory: Any) -> None:
    server = redis_factory(password=PASSWORD)
    result = await run_check(settings_for(server, {"connectivity": {}}, password=PASSWORD), "cache", "connectivity")
    assert result.status is Status.PASS, result.output

    wrong = "wrong-" + PASSWORD
    result = await run_check(settings_for(server, {"connectivity": {}}, password=wrong), "cache", "connectivity")
    assert result.status is Status.FAIL
    assert result.output.startswith("redis refused Vigil's credentials: ")
    assert PASSWORD not in result.output and wrong not in result.output

    result = await run_check(settings_for(server, {"connectivity": {}}), "cache", "connectivity")
    assert result.status is Status.FAIL
    assert result.output == (
        "redis requires authentication and this component has no password: set password or password_file"
    )


async def test_connectivity_over_tls(redis_factory: Any) -> None:
    """A real TLS redis-server (self-signed certificate): trusted through tls_ca_file, refused without it."""
    server = redis_factory(tls=True, password=PASSWORD)
    assert server.url.startswith("rediss://")
    trusted = settings_for(server, {"connectivity": {}}, password=PASSWORD, tls_ca_file=str(server.ca_file))
    result = await run_check(trusted, "cache", "connectivity")
    assert result.status is Status.PASS, result.output
    assert result.output.startswith("PONG in ")

    untrusted = await run_check(settings_for(server, {"connectivity": {}}, password=PASSWORD), "cache", "connectivity")
    assert untrusted.status is Status.FAIL
    assert untrusted.output == f"the certificate of 127.0.0.1:{server.port} does not verify: self-signed certificate"

    unverified = settings_for(server, {"connectivity": {}}, password=PASSWORD, tls_verify=False)
    assert (await run_check(unverified, "cache", "connectivity")).status is Status.PASS

    plain = make_settings(
        components={"cache": {"type": "redis", "url": server.url.replace("rediss", "redis", 1), "password": PASSWORD}}
    )
    cleartext = await run_check(plain, "cache", "connectivity")
    assert cleartext.status is Status.FAIL
    assert cleartext.output.startswith(f"lost Redis at 127.0.0.1:{server.port} during ")  # the TLS port hung up
    assert PASSWORD not in cleartext.output


async def test_tls_verifies_the_configured_name_not_the_address_it_resolved_to(redis_factory: Any) -> None:
    """Connections resolve the name themselves and connect to an address; the certificate is still checked against
    the name in the URL. The server's certificate is for 127.0.0.1 only: `localhost` (resolved to 127.0.0.1) fails."""
    server = redis_factory(tls=True)
    by_name = make_settings(
        components={
            "cache": {
                "type": "redis",
                "url": f"rediss://localhost:{server.port}/0",
                "tls_ca_file": str(server.ca_file),
                "checks": {"connectivity": {}},
            }
        }
    )
    result = await run_check(by_name, "cache", "connectivity")
    assert result.status is Status.FAIL
    assert result.output == (
        f"the certificate of localhost:{server.port} does not verify: "
        "Hostname mismatch, certificate is not valid for 'localhost'"
    )
    by_address = settings_for(server, {"connectivity": {}}, tls_ca_file=str(server.ca_file))
    assert (await run_check(by_address, "cache", "connectivity")).status is Status.PASS


async def test_a_unix_socket_needs_no_lookup_and_is_worded_when_gone(redis_factory: Any) -> None:
    server = redis_factory(extra=["--unixsocket", "redis.sock"])
    socket_path = server.dir / "redis.sock"
    for url, output in (
        (f"unix://{socket_path}", None),
        (f"unix://{server.dir / 'gone.sock'}", f"cannot reach Redis at {server.dir / 'gone.sock'}: no such socket"),
    ):
        settings = make_settings(components={"cache": {"type": "redis", "url": url, "checks": {"connectivity": {}}}})
        result = await run_check(settings, "cache", "connectivity")
        if output is None:
            assert result.status is Status.PASS, result.output
        else:
            assert (result.status, result.output) == (Status.FAIL, output)


# -- pool -----------------------------------------------------------------------------------------------------


async def test_pool_utilisation_thresholds_and_rejections(redis_factory: Any, idle_clients: Any) -> None:
    server = redis_factory(extra=["--maxclients", "20"])
    clients = idle_clients(server)
    async with check_runner(settings_for(server, {"pool": {}})) as scheduler:
        first = await run(scheduler, "pool")
        assert first.status is Status.PASS
        assert first.output == "1 of maxclients 20 connections in use (5%)"
        values = observed(first)
        assert values["maxclients"] == 20 and values["maxclients_source"] == "info"
        assert values["client_utilisation"] == 0.05
        assert values["rejected_connections_since_last_run"] is None  # no baseline yet
        assert values["vigil_pool_in_use"] == 0 and values["vigil_pool_max"] == 4

        clients.open(14)  # 15 of 20 with Vigil's own
        warn = await run(scheduler, "pool")
        assert warn.status is Status.WARN
        assert warn.output == "15 of maxclients 20 connections in use (75%), at or above the 70% warn threshold"
        assert observed(warn)["connected_clients"] == 15 and observed(warn)["client_utilisation"] == 0.75

        clients.open(4)  # 19 of 20
        fail = await run(scheduler, "pool")
        assert fail.status is Status.FAIL
        assert fail.output == "19 of maxclients 20 connections in use (95%), at or above the 90% fail threshold"

        clients.open(1)  # 20 of 20: the next one is turned away
        assert b"max number of clients reached" in clients.rejected()
        full = await run(scheduler, "pool")
        assert full.status is Status.FAIL
        assert full.output == (
            "20 of maxclients 20 connections in use (100%), at or above the 90% fail threshold; "
            "1 client connection rejected since the last run (maxclients reached)"
        )
        assert observed(full)["rejected_connections"] == 1
        assert observed(full)["rejected_connections_since_last_run"] == 1

        clients.close()
        await wait_until(lambda: info_field(server, "clients", "connected_clients") <= 2)
        recovered = await run(scheduler, "pool")
        assert recovered.status is Status.PASS, recovered.output
        assert observed(recovered)["rejected_connections_since_last_run"] == 0


async def test_pool_any_new_rejection_warns(redis_factory: Any, idle_clients: Any) -> None:
    server = redis_factory(extra=["--maxclients", "40"])
    clients = idle_clients(server)
    async with check_runner(settings_for(server, {"pool": {}})) as scheduler:
        assert (await run(scheduler, "pool")).status is Status.PASS
        clients.open(39)
        for _ in range(3):
            assert b"max number of clients reached" in clients.rejected()
        clients.close()
        await wait_until(lambda: info_field(server, "clients", "connected_clients") <= 2)
        result = await run(scheduler, "pool")
        assert result.status is Status.WARN
        assert result.output == "3 client connections rejected since the last run (maxclients reached)"
        assert observed(result)["rejected_connections_since_last_run"] == 3
        assert (await run(scheduler, "pool")).status is Status.PASS  # no new rejection since
        memo = scheduler.runners[("cache", "pool")].memo
        assert isinstance(memo, PoolMemo) and memo.rejected_connections == 3
        assert memo.identity is not None and memo.identity.run_id == info_text(server, "server", "run_id")


async def test_config_renamed_away_never_fails(redis_factory: Any) -> None:
    server = redis_factory(extra=CONFIG_RENAMED)
    checks = {"pool": {}, "session_ttl": {}, "memory": {}}
    async with check_runner(settings_for(server, checks)) as scheduler:
        pool = await run(scheduler, "pool")
        assert pool.status is Status.PASS, pool.output
        assert observed(pool)["maxclients"] == 10000 and observed(pool)["maxclients_source"] == "info"

        # A server that keeps maxclients out of INFO (before 7.0) and refuses CONFIG: maxclients is unknown.
        assert await maxclients_of(scheduler.clients["cache"], {}) == (None, "unknown")

        sessions = await run(scheduler, "session_ttl")
        assert sessions.status is Status.PASS, sessions.output
        assert "persistence: AOF off, RDB save unknown (CONFIG refused)" in sessions.output
        assert observed(sessions)["rdb_save_policy"] == "unknown"

        memory = await run(scheduler, "memory")
        assert memory.status is Status.PASS, memory.output
        assert observed(memory)["maxmemory_policy"] == "noeviction"  # from INFO memory, not CONFIG


async def test_maxclients_from_config_when_info_lacks_it(redis_server: RedisServer) -> None:
    async with check_runner(settings_for(redis_server, {"pool": {}})) as scheduler:
        assert await maxclients_of(scheduler.clients["cache"], {}) == (10000, "config")


async def test_own_pool_exhausted_fails_fast_then_recovers(redis_factory: Any) -> None:
    server = redis_factory()
    settings = settings_for(
        server,
        {"pool": {"timeout": "3s"}, "memory": {"timeout": "3s"}},
        max_connections=1,
        pool_timeout="200ms",
        socket_timeout="2s",
    )
    async with check_runner(settings) as scheduler:
        client = scheduler.clients["cache"]
        assert (await run(scheduler, "pool")).status is Status.PASS
        blocker = asyncio.get_running_loop().create_task(client.execute("BLPOP", "vigil-test:queue", 1.8))
        await wait_until(lambda: info_field(server, "clients", "blocked_clients") == 1)

        exhausted = await run(scheduler, "pool")
        assert exhausted.status is Status.FAIL
        assert exhausted.output == "pool exhausted: all 1 of Vigil's connections busy for 200ms"
        assert exhausted.duration < 0.6  # the acquire timeout, not the check timeout
        assert observed(exhausted) == {"vigil_pool_in_use": 1, "vigil_pool_max": 1}

        other = await run(scheduler, "memory")  # every check sharing the pool fails the same clean way
        assert other.status is Status.FAIL
        assert other.output == "pool exhausted: all 1 of Vigil's connections busy for 200ms"
        assert other.duration < 0.6

        server.cli("LPUSH", "vigil-test:queue", "x")  # the slow command ends; its connection returns
        assert tuple(await blocker) == (b"vigil-test:queue", b"x")
        recovered = await run(scheduler, "pool")
        assert recovered.status is Status.PASS, recovered.output
        assert observed(recovered)["vigil_pool_in_use"] == 0
        assert observed(recovered)["connected_clients"] == 1  # no extra connection was opened meanwhile
        assert (await run(scheduler, "memory")).status is Status.PASS


async def test_killed_mid_check_fails_then_recovers(redis_factory: Any) -> None:
    server = redis_factory()
    checks = {"pool": {}, "memory": {}}
    async with check_runner(settings_for(server, checks)) as scheduler:
        assert (await run(scheduler, "pool")).status is Status.PASS
        server.pause()
        in_flight = asyncio.get_running_loop().create_task(run(scheduler, "pool"))
        await asyncio.sleep(0.2)
        assert not in_flight.done()  # the INFO is waiting on the stopped server
        assert server.proc is not None
        server.proc.kill()  # SIGKILL while stopped: no chance to answer
        server.proc.wait(10)
        killed = await in_flight
        assert killed.status is Status.FAIL
        assert killed.output == f"cannot reach Redis at 127.0.0.1:{server.port}: connection refused"  # nothing listens
        assert killed.duration < 1.5

        down = await run(scheduler, "memory")
        assert down.status is Status.FAIL and down.output.startswith("cannot reach Redis at ")

        await asyncio.to_thread(server.start)
        for check in checks:
            recovered = await run(scheduler, check)
            assert recovered.status is Status.PASS, recovered.output
        assert observed(await run(scheduler, "pool"))["connected_clients"] == 1


# -- session_ttl ----------------------------------------------------------------------------------------------


SAVE_POLICY = ["--save", "3600 1"]  # RDB snapshots configured: the no-persistence warning stays out of the way


async def test_session_ttl_passes_and_writes_only_expiring_canaries(redis_factory: Any) -> None:
    server = redis_factory(extra=SAVE_POLICY)
    for i in range(50):
        server.cli("SET", f"session:{i}", "x", "EX", "3600")
    server.cli("SET", "other:key", "x")
    async with check_runner(settings_for(server, {"session_ttl": {}})) as scheduler:
        result = await run(scheduler, "session_ttl")
        assert result.status is Status.PASS, result.output
        assert result.output == (
            "canary TTL within tolerance; 50 sampled session keys all expire within 7d; "
            "persistence: AOF off, RDB save 3600 1"
        )
        values = observed(result)
        assert values["sessions_sampled"] == 50 and values["sessions_no_expiry"] == 0
        assert values["sessions_ttl_over_max"] == 0 and values["scan_calls"] == 1
        assert abs(values["canary_ttl_drift"]) < 0.1
        assert values["redis_restarted"] is False and values["rdb_save_policy"] == "3600 1"
    keys = sorted(vigil_keys(server))
    assert keys == ["vigil:cache:session_ttl:survival", "vigil:cache:session_ttl:ttl"]
    for key in keys:
        assert int(server.cli("PTTL", key)) > 0
    assert int(server.cli("DBSIZE")) == 53


async def test_session_keys_without_ttl_fail_and_over_long_ttl_warns(redis_factory: Any) -> None:
    server = redis_factory(extra=SAVE_POLICY)
    client = sync_client(server)
    with client.pipeline(transaction=False) as pipe:
        for i in range(20):
            pipe.set(f"session:ok:{i}", "x", ex=1800)
        for i in range(5):
            pipe.set(f"session:long:{i}", "x", ex=30 * 86400)
        pipe.execute()
    checks = {"session_ttl": {"max_ttl": "24h", "min_ttl": "20m", "min_ttl_ratio": 0.5}}
    async with check_runner(settings_for(server, checks)) as scheduler:
        warn = await run(scheduler, "session_ttl")
        assert warn.status is Status.WARN
        assert warn.output == (
            "5 of 25 sampled session keys (session:*) have a TTL above the 24h maximum (longest 30.0 d)"
        )
        assert observed(warn)["sessions_ttl_over_max"] == 5

        client.set("session:leak:1", "x")
        client.set("session:leak:2", "x")
        fail = await run(scheduler, "session_ttl")
        assert fail.status is Status.FAIL
        assert fail.output == (
            "2 of 27 sampled session keys (session:*) have no expiry: they never expire (a session leak); "
            "5 of 27 sampled session keys (session:*) have a TTL above the 24h maximum (longest 30.0 d)"
        )
        assert observed(fail)["sessions_no_expiry"] == 2 and observed(fail)["sessions_sampled"] == 27
        assert "session:leak" not in fail.output  # session ids are not for outputs

        client.delete("session:leak:1", "session:leak:2", *[f"session:long:{i}" for i in range(5)])
        with client.pipeline(transaction=False) as pipe:
            for i in range(30):
                pipe.set(f"session:short:{i}", "x", ex=60)
            pipe.execute()
        short = await run(scheduler, "session_ttl")
        assert short.status is Status.WARN
        assert short.output == "30 of 50 sampled session keys (session:*) have a TTL below the 20m minimum"
        assert observed(short)["sessions_ttl_under_min"] == 30
    client.close()


async def test_restart_without_persistence_loses_the_canary(redis_factory: Any) -> None:
    server = redis_factory()
    checks = {"session_ttl": {"failure_threshold": 2}}
    async with check_runner(settings_for(server, checks)) as scheduler:
        before = await run(scheduler, "session_ttl")
        assert before.status is Status.WARN
        assert before.output == "no persistence (AOF off, no RDB save points): sessions will not survive a restart"
        assert observed(before)["aof_enabled"] is False and observed(before)["rdb_save_policy"] == "off"

        await asyncio.to_thread(server.restart)
        lost = await run(scheduler, "session_ttl")
        assert lost.status is Status.FAIL
        assert lost.output.startswith("session data did not survive the restart of redis at ")
        assert lost.output.endswith(
            ": canary vigil:cache:session_ttl:survival is gone; "
            "no persistence (AOF off, no RDB save points): sessions will not survive a restart"
        )
        assert observed(lost)["redis_restarted"] is True
        assert lost.latch is not None and lost.output.startswith(lost.latch)

        # The check sees the loss once (the next run finds a fresh canary and no restart); the store latches it
        # for failure_threshold runs, so readers keep seeing the loss and the state flips to fail past hysteresis.
        again = await run(scheduler, "session_ttl")
        assert observed(again)["redis_restarted"] is False
        state = scheduler.store.states[("cache", "session_ttl")]
        assert state.last is not None and state.last.status is Status.FAIL and state.last.output == lost.output
        assert state.reported is Status.FAIL

        after = await run(scheduler, "session_ttl")
        assert after.status is Status.WARN
        assert after.output == before.output


async def test_restart_with_aof_keeps_the_canary(redis_factory: Any) -> None:
    server = redis_factory(appendonly=True)
    async with check_runner(settings_for(server, {"session_ttl": {}})) as scheduler:
        before = await run(scheduler, "session_ttl")
        assert before.status is Status.PASS, before.output
        assert before.output.endswith("persistence: AOF on, RDB save off")
        await asyncio.to_thread(server.restart)
        after = await run(scheduler, "session_ttl")
        assert after.status is Status.PASS, after.output
        assert "canary survived a redis restart" in after.output
        assert observed(after)["redis_restarted"] is True and observed(after)["aof_enabled"] is True


async def test_killed_without_persistence_fails_then_recovers(redis_factory: Any) -> None:
    server = redis_factory(extra=SAVE_POLICY)  # RDB only: a SIGKILL loses everything since the last snapshot
    checks = {"session_ttl": {"failure_threshold": 1}}
    async with check_runner(settings_for(server, checks)) as scheduler:
        assert (await run(scheduler, "session_ttl")).status is Status.PASS
        server.kill()
        down = await run(scheduler, "session_ttl")
        assert down.status is Status.FAIL and down.output.startswith("cannot reach Redis at ")
        await asyncio.to_thread(server.start)
        lost = await run(scheduler, "session_ttl")
        assert lost.status is Status.FAIL
        assert "session data did not survive the restart" in lost.output
        recovered = await run(scheduler, "session_ttl")
        assert recovered.status is Status.PASS, recovered.output


async def test_survival_canary_deleted_without_restart_warns(redis_factory: Any) -> None:
    server = redis_factory(extra=SAVE_POLICY)
    async with check_runner(settings_for(server, {"session_ttl": {}})) as scheduler:
        assert (await run(scheduler, "session_ttl")).status is Status.PASS
        server.cli("DEL", "vigil:cache:session_ttl:survival")
        result = await run(scheduler, "session_ttl")
        assert result.status is Status.WARN
        assert result.output == (
            "canary vigil:cache:session_ttl:survival vanished without a restart (evicted or deleted)"
        )


async def test_sampling_budget_holds_on_a_million_session_keys(redis_factory: Any) -> None:
    server = redis_factory(extra=["--enable-debug-command", "yes", *SAVE_POLICY])
    server.cli("DEBUG", "POPULATE", "1000000", "session:", "16")
    assert int(server.cli("DBSIZE")) == 1_000_000
    checks = {
        "by-keys": {"kind": "session_ttl", "max_keys": 500, "scan_count": 100, "scan_time": "200ms"},
        "by-time": {"kind": "session_ttl", "max_keys": 100000, "scan_count": 10, "scan_time": "50ms"},
        "by-deadline": {
            "kind": "session_ttl",
            "max_keys": 100000,
            "scan_count": 10,
            "scan_time": "10s",
            "timeout": "1.2s",
        },
    }
    async with check_runner(settings_for(server, checks)) as scheduler:
        for _ in range(3):
            result = await run(scheduler, "by-keys")
            values = observed(result)
            assert result.status is Status.FAIL  # DEBUG POPULATE keys have no TTL
            assert result.output.startswith(f"{values['sessions_sampled']} of {values['sessions_sampled']} sampled")
            assert 0 < values["sessions_sampled"] <= 500
            assert values["scan_calls"] == 5  # max_keys / scan_count: the key budget stopped it
            assert values["sampling_time"] < 0.2
            assert result.duration < 0.3

        by_time = await run(scheduler, "by-time")
        values = observed(by_time)
        assert values["sessions_sampled"] < 100000
        assert 0.05 <= values["sampling_time"] < 0.15  # stops at the wall-time budget (plus one SCAN step)
        assert by_time.duration < 0.25

        by_deadline = await run(scheduler, "by-deadline")  # scan_time above the timeout: half the time left wins
        values = observed(by_deadline)
        assert by_deadline.status is Status.FAIL and "no expiry" in by_deadline.output
        assert 0.5 <= values["sampling_time"] < 0.7
        assert by_deadline.duration < 1.0  # well inside the 1.2 s timeout: a real result, not "timed out"


# -- memory ---------------------------------------------------------------------------------------------------


def fill(client: redis.Redis, prefix: str, count: int, ttl: int | None = None) -> list[str]:
    names = [f"{prefix}{i}" for i in range(count)]
    payload = b"x" * 8192
    for start in range(0, count, 200):
        with client.pipeline(transaction=False) as pipe:
            for name in names[start : start + 200]:
                pipe.set(name, payload, ex=ttl)
            pipe.execute()
    return names


async def test_memory_usage_thresholds(redis_factory: Any) -> None:
    server = redis_factory()
    async with check_runner(settings_for(server, {"memory": {}})) as scheduler:
        first = await run(scheduler, "memory")
        assert first.status is Status.PASS
        assert observed(first)["memory_limit_source"] == "system memory"
        assert first.output.startswith("memory 0% of system memory, policy noeviction, 0 priority keys present")

        used = info_field(server, "memory", "used_memory")
        server.cli("CONFIG", "SET", "maxmemory", str(int(used / 0.87)))
        warn = await run(scheduler, "memory")
        assert warn.status is Status.WARN
        assert warn.output.startswith("memory at 8")
        assert "of maxmemory" in warn.output and warn.output.endswith("at or above the 80% warn threshold")
        assert 0.8 <= observed(warn)["memory_utilisation"] < 0.95
        assert observed(warn)["memory_limit_source"] == "maxmemory"

        server.cli("CONFIG", "SET", "maxmemory", str(int(used / 1.1)))
        fail = await run(scheduler, "memory")
        assert fail.status is Status.FAIL
        assert fail.output.endswith("at or above the 95% fail threshold")
        assert observed(fail)["memory_utilisation"] > 1.0
        assert observed(fail)["memory_fragmentation"] > 0


async def test_allkeys_lru_evicts_the_priority_key(redis_factory: Any) -> None:
    server = redis_factory(extra=["--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru"])
    client = sync_client(server)
    client.set("feature:flags", "on")
    client.set("ratelimit:api", "100")
    checks = {"memory": {"priority_keys": ["feature:flags", "ratelimit:*"]}}
    async with check_runner(settings_for(server, checks)) as scheduler:
        before = await run(scheduler, "memory")
        assert before.status is Status.WARN
        assert before.output == (
            "maxmemory-policy allkeys-lru lets redis evict sessions and priority data under memory pressure "
            "(allowed: noeviction, volatile-lru, volatile-lfu, volatile-random, volatile-ttl)"
        )
        for round_ in range(20):
            fill(client, f"cache:{round_}:", 500)
            if not client.exists("feature:flags") and not client.exists("ratelimit:api"):
                break
        assert not client.exists("feature:flags") and not client.exists("ratelimit:api")
        result = await run(scheduler, "memory")
        assert result.status is Status.FAIL
        assert "priority key feature:flags missing" in result.output
        assert "no key matches priority pattern ratelimit:*" in result.output
        assert "maxmemory-policy allkeys-lru lets redis evict" in result.output
        values = observed(result)
        assert values["priority_keys_missing"] == 2 and values["priority_keys"] == 2
        assert values["evicted_keys_since_last_run"] > 0 and values["maxmemory_policy"] == "allkeys-lru"
        assert values["memory_limit"] == 4 * 1024 * 1024
    client.close()


async def test_volatile_lru_keeps_the_priority_key(redis_factory: Any) -> None:
    server = redis_factory(extra=["--maxmemory", "4mb", "--maxmemory-policy", "volatile-lru"])
    client = sync_client(server)
    client.set("feature:flags", "on")
    checks = {"memory": {"priority_keys": ["feature:flags"]}}
    async with check_runner(settings_for(server, checks)) as scheduler:
        assert (await run(scheduler, "memory")).status is Status.PASS
        names = fill(client, "session:", 2000, ttl=3600)  # 16 MB of expiring sessions into 4 MB
        assert info_field(server, "stats", "evicted_keys") > 1000
        assert client.exists("feature:flags")
        client.unlink(*names)  # the sessions expire; what matters is what eviction kept
        result = await run(scheduler, "memory")
        assert result.status is Status.PASS, result.output
        assert result.output.startswith("memory ") and result.output.endswith(
            "of maxmemory, policy volatile-lru, 1 priority key present"
        )
        values = observed(result)
        assert values["priority_keys_missing"] == 0 and values["evicted_keys_since_last_run"] > 1000
    client.close()


async def test_priority_pattern_unconfirmed_within_budget_warns(redis_factory: Any) -> None:
    server = redis_factory(extra=["--enable-debug-command", "yes"])
    server.cli("DEBUG", "POPULATE", "200000", "session:", "16")
    checks = {"memory": {"priority_keys": ["ratelimit:*"], "max_keys": 1000, "scan_count": 100}}
    async with check_runner(settings_for(server, checks)) as scheduler:
        result = await run(scheduler, "memory")
        assert result.status is Status.WARN
        assert result.output == "priority pattern ratelimit:* not confirmed yet: no match within the scan budget"
        assert observed(result)["priority_keys_missing"] == 0
        assert observed(result)["scan_calls"] == 10
        assert result.duration < 0.3


async def test_priority_pattern_witness_is_remembered(redis_factory: Any) -> None:
    server = redis_factory()
    client = sync_client(server)
    with client.pipeline(transaction=False) as pipe:
        for i in range(3000):
            pipe.set(f"session:{i}", "x", ex=600)
        pipe.execute()
    client.set("ratelimit:api", "100")
    checks = {"memory": {"priority_keys": ["ratelimit:*"], "max_keys": 100000, "scan_count": 100}}
    async with check_runner(settings_for(server, checks)) as scheduler:
        found = await run(scheduler, "memory")
        assert found.status is Status.PASS, found.output
        assert observed(found)["scan_calls"] >= 1
        again = await run(scheduler, "memory")  # the key that matched is checked with one EXISTS
        assert again.status is Status.PASS and observed(again)["scan_calls"] == 0
        memo = scheduler.runners[("cache", "memory")].memo
        assert isinstance(memo, MemoryMemo) and memo.patterns["ratelimit:*"].witness == b"ratelimit:api"
        client.delete("ratelimit:api")
        gone = await run(scheduler, "memory")  # a whole SCAN cycle, from the start, finds nothing
        assert gone.status is Status.FAIL
        assert gone.output == "no key matches priority pattern ratelimit:*"
        assert observed(gone)["priority_keys_missing"] == 1 and observed(gone)["scan_calls"] > 20
    client.close()


async def test_session_sampling_continues_where_the_last_run_stopped(redis_factory: Any) -> None:
    server = redis_factory(extra=SAVE_POLICY)
    client = sync_client(server)
    with client.pipeline(transaction=False) as pipe:
        for i in range(1000):
            pipe.set(f"session:{i}", "x", ex=600)
        pipe.execute()
    client.close()
    checks = {"session_ttl": {"max_keys": 100, "scan_count": 50}}
    async with check_runner(settings_for(server, checks)) as scheduler:
        sampled = 0
        for _ in range(30):
            result = await run(scheduler, "session_ttl")
            assert result.status is Status.PASS, result.output
            assert observed(result)["sessions_sampled"] <= 100
            sampled += observed(result)["sessions_sampled"]
            if observed(result)["sampling_cycle_complete"]:
                break
        assert observed(result)["sampling_cycle_complete"] is True
        assert 1000 <= sampled < 1100  # every session key once (SCAN may repeat a few), over about ten runs
