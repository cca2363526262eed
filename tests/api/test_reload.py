"""POST /-/reload in process, where a test can hold a reload half-way: one at a time (409 for the second), 404
without a configuration to read again; and a run in flight of a changed check is never recorded."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import aiohttp

from app.config.settings import Settings
from app.engine.reload import Reloader
from app.main import build_engine
from app.model import CheckId, Status
from tests.conftest import AUTH, HangingServer, http, make_settings, make_token, reach, serve, wait_until, within


def settings_for(http_target: Any, **checks: Any) -> Settings:
    return make_settings(
        defaults={"interval": "30s", "timeout": "1s", "jitter": 0},
        auth=AUTH,
        components={"api": http(http_target.url, **(checks or {"ok": reach("/ok")}))},
    )


async def post(session: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, Any]]:
    async with session.post(url, headers={"Authorization": f"Bearer {make_token()}"}) as response:
        return response.status, await response.json()


async def test_a_second_reload_while_one_runs_is_answered_409(http_target: Any) -> None:
    settings = settings_for(http_target)
    release = threading.Event()
    entered = threading.Event()

    def slow_load() -> Settings:  # a reload held while it reads the configuration
        entered.set()
        release.wait(30)
        return settings_for(http_target, ok=reach("/ok"), home=reach("/ok"))

    async with serve(settings, slow_load) as served, aiohttp.ClientSession() as session:
        url, app = served.url, served.app
        first = asyncio.ensure_future(post(session, url + "/-/reload"))
        await wait_until(entered.is_set, within(2), "the first reload reading")
        status, body = await post(session, url + "/-/reload")
        assert status == 409 and body == {"error": "conflict", "detail": "another reload is in progress; try again"}
        assert app.state.services.store.get(CheckId("api", "home")) is None  # nothing applied yet
        release.set()
        status, body = await first
        assert status == 200 and body["added"] == ["api:home"], body
        assert app.state.services.settings.components["api"].checks.keys() == {"ok", "home"}


async def test_reload_needs_a_configuration_to_read_again(http_target: Any) -> None:
    async with serve(settings_for(http_target)) as served:
        status, body, _ = await served.post("/-/reload", headers={"Authorization": f"Bearer {make_token()}"})
        assert status == 404 and body.startswith('{"error":"not_found"'), body


async def test_a_changed_checks_run_in_flight_is_not_recorded(hanging_server: HangingServer) -> None:
    """The run in flight when its check changed belongs to the old configuration: it ends at its own deadline, and
    only the new runner's results count."""
    url = f"http://127.0.0.1:{hanging_server.port}/"

    def config(timeout: str) -> Settings:
        stuck = reach("/", severity="degraded", interval="30s", timeout=timeout)
        return make_settings(
            defaults={"jitter": 0, "failure_threshold": 1}, components={"hung": http(url, stuck=stuck)}
        )

    old, new = config("1s"), config("900ms")
    store, scheduler = build_engine(old)
    reloader = Reloader(old, lambda: new, store, scheduler)
    check_id = CheckId("hung", "stuck")
    await scheduler.start()
    try:
        await wait_until(lambda: scheduler.runners[check_id].busy, within(1), "the first run in flight")
        old_runner = scheduler.runners[check_id]
        report = await reloader.reload("test")
        assert report.ok and report.plan is not None and [str(s.id) for s in report.plan.changed] == ["hung:stuck"]
        assert old_runner.busy and scheduler.runners[check_id] is not old_runner
        await wait_until(lambda: not old_runner.busy and store.states[check_id].last is not None, within(1), "runs")
        await wait_until(lambda: not scheduler.runners[check_id].busy, within(1), "the new run over")
        state = store.states[check_id]
        assert state.runs[Status.FAIL] == 1 and state.last is not None
        assert state.last.output == "timed out after 900ms", state.last.output
    finally:
        await scheduler.stop()
