"""The resolver's daemon pool (app/clients/resolver.py DaemonPool): results and errors reach the waiter, no more
threads than asked for, none of them keeps the process alive, and shutdown cancels what has not started."""

from __future__ import annotations

import asyncio
import threading

import pytest

from app.clients.resolver import DaemonPool, SharedResolver


def test_results_errors_and_thread_limit() -> None:
    pool = DaemonPool(2, "test-pool")
    release = threading.Event()
    blocked = [pool.submit(release.wait, 10) for _ in range(3)]
    assert not blocked[2].done()  # two threads, both busy: the third call waits its turn
    names = {thread.name for thread in threading.enumerate() if thread.name.startswith("test-pool-")}
    assert names == {"test-pool-0", "test-pool-1"}
    assert all(thread.daemon for thread in threading.enumerate() if thread.name.startswith("test-pool-"))
    release.set()
    assert [future.result(5) for future in blocked] == [True, True, True]
    assert pool.submit(lambda x: x * 2, 21).result(5) == 42
    with pytest.raises(ZeroDivisionError):
        pool.submit(lambda: 1 / 0).result(5)
    pool.shutdown(wait=True)
    with pytest.raises(RuntimeError):
        pool.submit(print)


def test_shutdown_cancels_pending_calls() -> None:
    pool = DaemonPool(1, "test-cancel")
    started, release = threading.Event(), threading.Event()

    def first() -> bool:
        started.set()
        return release.wait(10)

    running = pool.submit(first)
    assert started.wait(5)
    pending = pool.submit(release.wait, 10)
    pool.shutdown(wait=False, cancel_futures=True)
    assert pending.cancelled()
    release.set()
    assert running.result(5) is True


async def test_shared_resolver_resolves_on_its_pool() -> None:
    resolver = SharedResolver()
    try:
        answers = await resolver.resolve("localhost", 80)
        assert answers and all(answer["port"] == 80 for answer in answers)
        assert any(thread.name.startswith("vigil-resolve") for thread in threading.enumerate())
        literal = await asyncio.wait_for(resolver.resolve("127.0.0.1", 5432), 5)
        assert literal[0]["host"] == "127.0.0.1"
    finally:
        await resolver.close()
