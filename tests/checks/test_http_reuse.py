"""An `http` check keeps its connection: a small body the check does not need is read anyway so the connection goes
back to the pool (aiohttp closes one whose body was not read to its end), and a body that never ends changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import pytest
from aiohttp import web

from app.checks.http.calls import DRAIN_WAIT
from app.model import CheckId, Status
from tests.conftest import HttpTarget, check_runner, http, make_settings, reach

RUNS = 6


class CountingSite(HttpTarget):
    """The test target's thread and loop, serving an app that counts the connections its requests came on."""

    def __init__(self) -> None:
        super().__init__()
        self.peers: set[tuple[str, int]] = set()

    def _app(self) -> web.Application:
        async def late_body(request: web.Request) -> web.StreamResponse:
            # Headers first, the (chunked) body a moment later: the check has its status before the body is in.
            self.peers.add(request.transport.get_extra_info("peername"))  # type: ignore[union-attr]
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            await response.prepare(request)
            await asyncio.sleep(DRAIN_WAIT / 10)
            await response.write(b'{"status": "ok"}')
            await response.write_eof()
            return response

        async def endless(request: web.Request) -> web.StreamResponse:
            self.peers.add(request.transport.get_extra_info("peername"))  # type: ignore[union-attr]
            response = web.StreamResponse()
            await response.prepare(request)
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                for _ in range(10_000):  # bounded, so the thread stops
                    await response.write(b"x" * 1024)
                    await asyncio.sleep(0.01)
            return response

        app = web.Application()
        app.router.add_get("/late-body", late_body)
        app.router.add_get("/endless", endless)
        return app


@pytest.fixture(scope="module")
def site() -> Iterator[CountingSite]:
    served = CountingSite()
    served.start()
    yield served
    served.stop()


async def test_a_body_the_check_does_not_read_keeps_the_connection(site: CountingSite) -> None:
    site.peers.clear()
    settings = make_settings(
        defaults={"interval": 5, "timeout": 2},
        components={"api": http(f"http://127.0.0.1:{site.port}", 0.5, r=reach("/late-body"))},
    )
    async with check_runner(settings) as scheduler:
        for _ in range(RUNS):
            result = await scheduler.runners[CheckId("api", "r")].run(scheduled=False)
            assert result.status is Status.PASS, result.output
            assert result.output.startswith("HTTP 200 in ")
    # One connection for all runs; a run the loaded machine made wait past DRAIN_WAIT may open a second.
    assert len(site.peers) <= RUNS // 2, site.peers


async def test_a_body_that_never_ends_changes_nothing(site: CountingSite) -> None:
    settings = make_settings(
        defaults={"interval": 5, "timeout": 2},
        components={"api": http(f"http://127.0.0.1:{site.port}", 0.5, r=reach("/endless"))},
    )
    async with check_runner(settings) as scheduler:
        result = await scheduler.runners[CheckId("api", "r")].run(scheduled=False)
    assert result.status is Status.PASS, result.output
    assert result.output.startswith("HTTP 200 in ")  # the endless body was left with its connection, not waited for
