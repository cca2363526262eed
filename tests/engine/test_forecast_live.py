"""Early warning against a real Redis whose memory grows at a steady rate, beside one that does not."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import redis

from app.model import CheckId, Status
from tests.conftest import make_settings, serve

MAXMEMORY = 24 * 1024 * 1024
WRITES_PER_SECOND = 20  # of 64 KiB each: about 1.3 MB/s


def memory_check(server: Any) -> dict[str, Any]:
    return {
        "type": "redis",
        "url": server.url,
        "connect_timeout": 0.15,
        "socket_timeout": 0.15,
        "pool_timeout": 0.1,
        "checks": {
            "memory": {
                "interval": "250ms",
                "timeout": "200ms",
                "failure_threshold": 1,
                "forecast": {"window": "6s", "horizon": "60s"},
            }
        },
    }


async def test_growing_memory_is_forecast_before_it_breaches_and_stable_memory_is_not(redis_factory: Any) -> None:
    growing = redis_factory(extra=["--maxmemory", str(MAXMEMORY), "--maxmemory-policy", "noeviction"])
    stable = redis_factory(extra=["--maxmemory", str(MAXMEMORY), "--maxmemory-policy", "noeviction"])
    settings = make_settings(
        defaults={"jitter": 0}, components={"growing": memory_check(growing), "stable": memory_check(stable)}
    )
    stop = threading.Event()

    def writer() -> None:  # about 1.3 MB/s, steady, until Redis refuses writes (noeviction at maxmemory)
        client = redis.Redis(host="127.0.0.1", port=growing.port, socket_timeout=1)
        value = b"x" * 65536
        n, began = 0, time.monotonic()
        try:
            while not stop.is_set():
                # Writes due by the clock, not one per pause: a busy machine delays them, never slows the growth.
                while n < WRITES_PER_SECOND * (time.monotonic() - began):
                    try:
                        client.set(f"blob:{n}", value)
                    except redis.exceptions.ResponseError:  # OOM: full
                        return
                    n += 1
                stop.wait(1 / WRITES_PER_SECOND)
        finally:
            client.close()

    async with serve(settings) as served:
        grow = served.store.states[CheckId("growing", "memory")]
        steady = served.store.states[CheckId("stable", "memory")]
        await served.wait(lambda: grow.last is not None and steady.last is not None, what="first runs")
        thread = threading.Thread(target=writer, daemon=True)
        started = time.monotonic()
        thread.start()
        try:
            await served.wait(lambda: grow.forecast is not None, timeout=30, what="a forecast")
            first_at = time.monotonic()
            predicted = first_at + grow.forecast.breach_in  # type: ignore[union-attr]
            assert grow.last is not None and grow.last.status is Status.WARN
            assert "memory utilisation reaches 95% of maxmemory in about " in grow.last.output
            ratio = next(o.value for o in grow.last.observed if o.name == "memory_utilisation")
            assert isinstance(ratio, float) and ratio < 0.8  # well before the warn ratio
            await served.wait(
                lambda: grow.last is not None and grow.last.status is Status.FAIL, timeout=60, what="the breach"
            )
            breached = time.monotonic()
            assert steady.forecast is None and steady.last is not None and steady.last.status is Status.PASS
        finally:
            stop.set()
            await asyncio.to_thread(thread.join, 5)
    took = breached - first_at
    assert abs(predicted - breached) <= 0.25 * took, (predicted - first_at, took, breached - started)
