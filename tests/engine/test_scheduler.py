"""The engine against real servers: deadlines, hung targets, kill/restart recovery, pool health, jitter."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any

import pytest

from app.engine.scheduler import Scheduler, timed_out
from app.main import build_engine
from app.model import Status
from devenv.servers import RedisServer, free_port
from tests.conftest import (
    FAST_REDIS,
    HangingServer,
    HttpTarget,
    http,
    make_settings,
    reach,
    redis_component,
    run_check,
    wait_until,
    within,
)


def settings_for(components: dict[str, Any], **defaults: Any) -> Any:
    return make_settings(defaults={"interval": 0.5, "timeout": 0.4, "jitter": 0.0, **defaults}, components=components)


async def started(settings: Any) -> Scheduler:
    scheduler = build_engine(settings, seed=1)[1]
    await scheduler.start()
    return scheduler


async def test_hung_target_times_out_and_delays_nothing_else(
    hanging_server: HangingServer, http_target: HttpTarget
) -> None:
    hung_timeout = 3.0
    settings = settings_for(
        {
            "hung": http(
                f"http://127.0.0.1:{hanging_server.port}/",
                reachable={"timeout": hung_timeout, "interval": 30.0},
            ),
            "api": http(http_target.url, 0.1, ok=reach("/ok")),
        },
        interval=0.2,
        timeout=0.15,
    )
    scheduler = await started(settings)
    try:
        hung = scheduler.store.states[("hung", "reachable")]
        api = scheduler.store.states[("api", "ok")]
        await wait_until(lambda: scheduler.runners[("hung", "reachable")].busy, within(1), "the hung run in flight")
        passed = api.runs[Status.PASS]
        # While the hung run waits out its timeout, the healthy check keeps its own cadence.
        await wait_until(lambda: api.runs[Status.PASS] >= passed + 3, hung_timeout, "three api runs meanwhile")
        assert hung.last is None, "the api check waited behind the hung one"
        assert api.lag < within(0.2)  # its interval, not the hung check's timeout
        # Its result, joined in flight (a run a starved machine kept Vigil from judging is not recorded).
        result = await asyncio.wait_for(scheduler.runners[("hung", "reachable")].run(False), within(hung_timeout))
        assert result.status is Status.FAIL
        assert result.output == timed_out(hung_timeout)
        assert hung_timeout * 0.95 <= result.duration < within(hung_timeout)
    finally:
        await scheduler.stop()


async def test_redis_killed_turns_fail_within_interval_plus_timeout_and_recovers(redis_factory: Any) -> None:
    server: RedisServer = redis_factory()
    settings = settings_for(
        {"cache": redis_component(server.url, **FAST_REDIS)}, failure_threshold=1, interval=0.5, timeout=0.4
    )
    scheduler = await started(settings)
    state = scheduler.store.states[("cache", "connectivity")]
    try:
        await wait_until(lambda: state.effective is Status.PASS, 3, "first pass")
        assert scheduler.store.ready
        server.kill()
        # The next run (one interval away) fails within its timeout.
        await wait_until(lambda: state.effective is Status.FAIL, within(0.5 + 0.4), "fail after kill")
        assert not scheduler.store.ready
        assert state.effective_output.startswith(("cannot reach Redis at ", "lost Redis at "))
        server.start()  # same port, fresh process
        await wait_until(lambda: state.effective is Status.PASS, 3, "recovery after restart")
        assert scheduler.store.ready
        assert [(t.old, t.new) for t in state.transitions] == [("pending", "pass"), ("pass", "fail"), ("fail", "pass")]
    finally:
        await scheduler.stop()


async def test_interrupted_command_never_poisons_the_pool(redis_factory: Any) -> None:
    """A PING cut off by SIGSTOP must not leave its PONG for the next command on a reused connection."""
    server: RedisServer = redis_factory()
    settings = settings_for({"cache": redis_component(server.url, max_connections=1, **FAST_REDIS)})
    scheduler = build_engine(settings)[1]
    scheduler.build()
    client = scheduler.clients["cache"]
    try:
        assert (await run_check(settings, "cache", "connectivity", scheduler)).status is Status.PASS
        server.pause()
        try:
            failed = await run_check(settings, "cache", "connectivity", scheduler)
        finally:
            server.resume()
        assert failed.status is Status.FAIL
        assert "did not answer PING within the 200 ms socket timeout" in failed.output or "timed out" in failed.output
        assert client.in_use == 0
        for word in ("alpha", "beta", "gamma"):
            assert await client.execute("ECHO", word) == word.encode()
        assert (await run_check(settings, "cache", "connectivity", scheduler)).status is Status.PASS
    finally:
        await scheduler.stop()


async def test_check_exceptions_become_clean_fail_outputs(http_target: HttpTarget) -> None:
    closed = free_port()
    settings = settings_for(
        {
            "gone": redis_component(f"redis://127.0.0.1:{closed}/0", **FAST_REDIS),
            "loop": http(
                http_target.url, r={"kind": "reachable", "path": "/loop", "follow_redirects": True, "max_redirects": 2}
            ),
        }
    )
    gone = await run_check(settings, "gone", "connectivity")
    assert gone.status is Status.FAIL
    assert gone.output == f"cannot reach Redis at 127.0.0.1:{closed}: connection refused"
    loop = await run_check(settings, "loop", "r")
    assert (loop.status, loop.output) == (Status.FAIL, "too many redirects")


async def test_single_flight_shares_one_execution(http_target: HttpTarget) -> None:
    settings = settings_for(
        {"api": http(http_target.url, slow={"kind": "reachable", "path": "/slow?delay=0.3"})},
        timeout=5.0,
        interval=10.0,
    )
    scheduler = build_engine(settings)[1]
    scheduler.build()
    before = http_target.hits.get("/slow", 0)
    try:
        results = await asyncio.gather(*(scheduler.runners[("api", "slow")].run(scheduled=False) for _ in range(25)))
    finally:
        await scheduler.stop()
    assert http_target.hits.get("/slow", 0) - before == 1
    assert len({id(r) for r in results}) == 1
    assert results[0].status is Status.PASS


async def test_first_runs_are_spread_by_jitter(http_target: HttpTarget) -> None:
    checks = {f"c{i}": {"kind": "reachable", "path": "/ok"} for i in range(20)}
    settings = make_settings(
        defaults={"interval": 2.0, "timeout": 0.5, "jitter": 0.5},
        components={"api": {"type": "http", "url": http_target.url, "connect_timeout": 0.2, "checks": checks}},
    )
    scheduler = await started(settings)
    try:
        await wait_until(lambda: scheduler.store.startup_complete, within(1.0 + 0.5), "all first runs")
        # Planned starts (start less lag): a busy machine may bunch the actual ones.
        starts = sorted(s.last.started_at - s.lag for s in scheduler.store.states.values() if s.last)
        assert starts[-1] - starts[0] > 0.3  # spread over up to 1 s, not fired at once
    finally:
        await scheduler.stop()


async def test_runs_settle_on_phases_spread_over_the_interval(http_target: HttpTarget) -> None:
    """With no first-run jitter all checks start together, but later runs do not keep firing in one burst."""
    checks = {f"c{i}": {"kind": "reachable", "path": "/ok"} for i in range(20)}
    settings = make_settings(
        defaults={"interval": 1.0, "timeout": 0.5, "jitter": 0.0},
        components={"api": {"type": "http", "url": http_target.url, "connect_timeout": 0.2, "checks": checks}},
    )
    scheduler = await started(settings)
    second: dict[str, float] = {}
    # Each run's planned time (its start less its lag): what the scheduler decided, whatever a busy machine
    # made of it.
    try:
        states = scheduler.store.states.values()
        await wait_until(lambda: scheduler.store.startup_complete, within(0.5), "first runs")
        first = sorted(s.last.started_at - s.lag for s in states if s.last)
        # jitter 0: the first runs are planned together (but for the cap on first runs a second, 0.2 s here), not
        # over the interval; a start less its lag still carries the hop into the run, which a busy machine stretches.
        assert scheduler.first_run_window(1.0) < 1.0 / 2
        assert first[-1] - first[0] < 1.0 / 2
        deadline = time.monotonic() + within(1.0)
        while len(second) < len(checks):
            for state in states:
                if state.runs[Status.PASS] == 2 and state.check not in second and state.last is not None:
                    second[state.check] = state.last.started_at - state.lag
            await asyncio.sleep(0.005)
            assert time.monotonic() < deadline, f"only {len(second)} second runs in {within(1.0)} s"
    finally:
        await scheduler.stop()
    times = sorted(second.values())
    assert times[-1] - times[0] > 0.5  # second runs spread over the interval
    assert max(b - a for a, b in zip(times, times[1:], strict=False)) < 0.5  # and no single burst


async def test_stop_cancels_in_flight_runs_quickly(hanging_server: HangingServer) -> None:
    settings = settings_for(
        {"hung": http(f"http://127.0.0.1:{hanging_server.port}/", 0.3, reachable={"timeout": 5.0, "interval": 10.0})}
    )
    scheduler = await started(settings)
    await wait_until(lambda: hanging_server.conns and scheduler.runners[("hung", "reachable")].busy, 5, "run in flight")
    begun = time.monotonic()
    await scheduler.stop(grace=20.0)
    assert time.monotonic() - begun < 20.0 / 2  # the hung run was cancelled, not waited for (half the grace)
    assert scheduler.store.ready is False and scheduler.store.shutting_down


async def test_a_run_vigil_was_too_late_to_judge_is_not_the_targets_failure(
    hanging_server: HangingServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The loop held for half the timeout (CPU throttling, a starved host, Vigil's own work) while a run waited
    on its target: that run is counted as not judged, not as a failure of the target; the next one judges, and a
    failure that counts is logged at debug level with its cause and the stall measured in it."""
    caplog.set_level(logging.DEBUG, logger="vigil.scheduler")
    timeout = 2.0
    settings = settings_for(
        {"hung": http(f"http://127.0.0.1:{hanging_server.port}/", reachable=reach("/"))},
        interval=3600,
        timeout=timeout,
    )
    scheduler = await started(settings)
    try:
        runner = scheduler.runners[("hung", "reachable")]
        state = scheduler.store.states[("hung", "reachable")]
        # In flight: the target has the run's connection (the run's own deadline is already ticking).
        await wait_until(
            lambda: runner.busy and hanging_server.conns, timeout * 3, "the first run waiting on its target"
        )
        time.sleep(timeout / 2)  # the event loop itself is held: nothing of Vigil runs meanwhile
        await wait_until(lambda: not runner.busy, timeout * 3, "the first run over")
        assert state.unjudged == 1 and state.last is None and state.runs[Status.FAIL] == 0
        # Judged when Vigil keeps up: the same hung target fails.
        result = await runner.run(scheduled=True)
        assert result.status is Status.FAIL and state.last is result and state.unjudged == 1
        counted = [r.getMessage() for r in caplog.records if " failed after " in r.getMessage()]
        pattern = r"run of hung:reachable failed after [\d.]+ m?s, the event loop stalled for [\d.]+ m?s of it: "
        assert len(counted) == 1 and re.fullmatch(pattern + re.escape(result.output), counted[0]), counted
    finally:
        await scheduler.stop()
