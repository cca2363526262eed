"""The fault matrix: each fault turns the right check fail within interval + timeout, with an output naming the
cause, while the other checks keep their schedule and the probes keep answering; recovery follows by itself.

Timing bounds here are generous multiples of the issue's figures (a busy 2-core machine); bench/ holds the
tight figures. ClickHouse faults (killed, paused mid-query) are in tests/checks/test_clickhouse*.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from app.model import CheckId, Status
from devenv.servers import RedisServer, free_port
from tests.conftest import HangingServer, http, make_settings, reach, serve

INTERVAL, TIMEOUT = 0.5, 0.4
FAST_REDIS = {"connect_timeout": 0.2, "socket_timeout": 0.2, "pool_timeout": 0.1}
LATE_START = 0.25  # how late a bystander check may start (the 100 ms, with room for a loaded CI box)
SLOW_PROBE = 0.25  # p95 of /livez while a fault is on (the 50 ms, ditto)
BYSTANDERS = [CheckId("web", "ok"), CheckId("cache", "connectivity")]


@dataclass
class Watch:
    lags: list[float] = field(default_factory=list)
    probes: list[float] = field(default_factory=list)


@contextlib.asynccontextmanager
async def watching(served: Any) -> AsyncIterator[Watch]:
    """Samples the bystanders' start lag and /livez latency while a fault is on."""
    watch = Watch()

    async def sample() -> None:
        while True:
            watch.lags.extend(served.store.states[b].lag for b in BYSTANDERS)
            started = time.perf_counter()
            status, _, _ = await served.get("/livez")
            watch.probes.append(time.perf_counter() - started)
            assert status == 200
            await asyncio.sleep(0.05)

    task = asyncio.create_task(sample())
    try:
        yield watch
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def settings_with(victim: dict[str, Any], http_target: Any, cache: RedisServer) -> Any:
    return make_settings(
        defaults={"interval": INTERVAL, "timeout": TIMEOUT, "failure_threshold": 1, "jitter": 0.5},
        components={
            "victim": victim,
            "web": http(http_target.url, ok=reach("/ok")),
            "cache": {"type": "redis", "url": cache.url, **FAST_REDIS},
        },
    )


async def exercise(
    served: Any,
    check: CheckId,
    cause: tuple[str, ...],
    inject: Callable[[], Any] | None = None,
    heal: Callable[[], Any] | None = None,
) -> None:
    """With `inject`: pass first, then the fault. Without: the fault is there from the start."""
    state = served.store.states[check]
    if inject is not None:
        await served.wait(lambda: state.effective is Status.PASS, what=f"{check} passing before the fault")
    async with watching(served) as watch:
        began = time.monotonic()
        if inject is not None:
            await asyncio.to_thread(inject)
        await served.wait(
            lambda: state.effective is Status.FAIL, timeout=4 * (INTERVAL + TIMEOUT) + 2, what=f"{check} failing"
        )
        took = time.monotonic() - began
        assert state.last is not None
        assert any(word in state.last.output for word in cause), state.last.output
        await asyncio.sleep(3 * INTERVAL)  # the fault stays on: nothing else may suffer meanwhile
        for bystander in BYSTANDERS:
            assert served.store.states[bystander].effective is Status.PASS, served.store.states[bystander].last
    assert took < 2 * (INTERVAL + TIMEOUT) + 1.5, took
    assert max(watch.lags) < LATE_START, max(watch.lags)
    assert sorted(watch.probes)[int(len(watch.probes) * 0.95)] < SLOW_PROBE, sorted(watch.probes)[-5:]
    if heal is not None:
        await asyncio.to_thread(heal)
        await served.wait(
            lambda: state.effective is Status.PASS, timeout=4 * (INTERVAL + TIMEOUT) + 5, what=f"{check} recovering"
        )


async def test_redis_killed(redis_factory: Any, http_target: Any) -> None:
    victim, cache = redis_factory(), redis_factory()
    config = settings_with({"type": "redis", "url": victim.url, **FAST_REDIS}, http_target, cache)
    async with serve(config) as served:
        await exercise(served, CheckId("victim", "connectivity"), ("cannot reach redis",), victim.kill, victim.start)


async def test_redis_paused(redis_factory: Any, http_target: Any) -> None:
    victim, cache = redis_factory(), redis_factory()
    config = settings_with({"type": "redis", "url": victim.url, **FAST_REDIS}, http_target, cache)
    async with serve(config) as served:
        await exercise(
            served,
            CheckId("victim", "connectivity"),
            ("did not answer", "timed out", "Timeout"),
            victim.pause,
            victim.resume,
        )


async def test_http_headers_after_30s(redis_factory: Any, http_target: Any) -> None:
    config = settings_with(http(http_target.url, page=reach("/switch")), http_target, redis_factory())
    async with serve(config) as served:
        try:
            await exercise(
                served,
                CheckId("victim", "page"),
                ("timed out", "timeout", "Timeout"),
                lambda: setattr(http_target, "switch", "late-headers"),
                lambda: setattr(http_target, "switch", "ok"),
            )
        finally:
            http_target.switch = "ok"


async def test_http_endless_body(redis_factory: Any, http_target: Any) -> None:
    page = reach("/switch", json_fields={"status": "ok"})
    config = settings_with(http(http_target.url, page=page), http_target, redis_factory())
    async with serve(config) as served:
        try:
            await exercise(
                served,
                CheckId("victim", "page"),
                ("timed out", "not JSON", "timeout", "Timeout"),
                lambda: setattr(http_target, "switch", "endless"),
                lambda: setattr(http_target, "switch", "ok"),
            )
        finally:
            http_target.switch = "ok"


async def test_port_that_accepts_and_never_answers(redis_factory: Any, http_target: Any) -> None:
    hanging = HangingServer()
    try:
        victim = {"type": "redis", "url": f"redis://127.0.0.1:{hanging.port}/0", **FAST_REDIS}
        async with serve(settings_with(victim, http_target, redis_factory())) as served:
            await exercise(served, CheckId("victim", "connectivity"), ("did not answer", "timed out", "Timeout"))
    finally:
        hanging.close()


async def test_closed_port(redis_factory: Any, http_target: Any) -> None:
    victim = http(f"http://127.0.0.1:{free_port()}", page=reach("/"))
    async with serve(settings_with(victim, http_target, redis_factory())) as served:
        await exercise(served, CheckId("victim", "page"), ("refused", "cannot connect"))
