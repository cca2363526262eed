"""The kubelet probes over real HTTP: /livez, /startupz, /readyz and /ready, verbose, exclude, per part."""

from __future__ import annotations

import json
import time
from typing import Any

from app.engine.scheduler import FIRST_RUN_SPREAD
from app.main import build_engine
from tests.conftest import FAST, HttpTarget, all_ran, http, make_settings, reach, serve, wait_until, within


def settings_for(components: dict[str, Any], **top: Any) -> Any:
    top.setdefault("server", {"show_details": "always"})  # reasons in verbose output (the show_details rule)
    return make_settings(defaults={**FAST, **top.pop("defaults", {})}, components=components, **top)


async def test_livez_is_ok_and_never_depends_on_targets(http_target: Any, hanging_server: Any) -> None:
    settings = settings_for(
        {
            "down": http("http://127.0.0.1:1/", reachable=reach("/")),
            "hung": http(f"http://127.0.0.1:{hanging_server.port}/", reachable=reach("/", interval="8s", timeout="4s")),
        }
    )
    async with serve(settings) as served:
        status, body, headers = await served.get("/livez")
        assert (status, body) == (200, "ok\n")
        assert headers["content-type"].startswith("text/plain")
        # Answered while the first run against the hung target is still in flight (4 s timeout): not held by it.
        await served.wait(lambda: bool(hanging_server.conns), what="hung run in flight")
        hung = served.store.states[("hung", "reachable")]
        for path in ("/livez", "/readyz", "/readyz?verbose", "/health", "/metrics", "/livez"):
            await served.get(path)
            assert hung.last is None, f"{path} answered only after the hung run ended"
        await served.wait(lambda: all_ran(served), within(4), what="first runs")
        assert (await served.get("/livez"))[:2] == (200, "ok\n")
        assert (await served.get("/readyz"))[0] == 503
        # The routed form (any query string) agrees with the fast path.
        assert (await served.get("/livez?x=1"))[:2] == (200, "ok\n")


async def test_startupz_and_readyz_wait_for_every_critical_first_run(http_target: Any) -> None:
    settings = settings_for(
        {
            "api": http(
                http_target.url,
                fast=reach("/ok"),
                late=reach("/ok", initial_delay="1s", interval="2s", timeout="1s"),
            )
        }
    )
    async with serve(settings) as served:
        await served.wait(lambda: served.store.states[("api", "fast")].last is not None, what="fast check")
        status, body, _ = await served.get("/startupz")
        assert status == 503
        assert body == "starting: 1 of 2 checks have run once\n"
        status, body, _ = await served.get("/readyz")
        assert (status, body) == (503, "not ready\n")
        status, body, _ = await served.get("/readyz?verbose")
        assert status == 503
        assert "[+]api:fast ok\n" in body
        assert "[-]api:late failed: pending: not run yet\n" in body
        assert body.endswith("readyz check failed\n")

        await served.wait(lambda: all_ran(served), what="late check")
        assert (await served.get("/startupz"))[:2] == (200, "ok\n")
        assert (await served.get("/readyz"))[:2] == (200, "ok\n")
        assert (await served.get("/ready"))[:2] == (200, "ok\n")


async def test_startupz_turns_200_even_when_checks_fail(http_target: Any) -> None:
    settings = settings_for({"api": http(http_target.url, broken=reach("/status/500"))})
    async with serve(settings) as served:
        await served.wait(lambda: all_ran(served), what="first run")
        assert (await served.get("/startupz"))[:2] == (200, "ok\n")
        assert (await served.get("/readyz"))[:2] == (503, "not ready\n")
        assert (await served.get("/livez"))[:2] == (200, "ok\n")


def mixed(http_target: Any) -> Any:
    return settings_for(
        {
            "api": http(http_target.url, ok=reach("/ok"), teapot=reach("/status/418", severity="degraded")),
            "cache": http(http_target.url, ping=reach("/ok")),
        }
    )


async def test_failing_degraded_check_keeps_readyz_ok_but_shows_in_verbose(http_target: Any) -> None:
    async with serve(mixed(http_target)) as served:
        await served.wait(lambda: all_ran(served), what="first runs")
        for path in ("/readyz", "/ready"):
            assert (await served.get(path))[:2] == (200, "ok\n")
            status, body, headers = await served.get(path + "?verbose")
            assert status == 200
            assert headers["content-type"].startswith("text/plain")
            assert body.splitlines() == [
                "[+]api:ok ok",
                "[-]api:teapot failed: HTTP 418, expected 200 (degraded: does not gate readiness)",
                "[+]cache:ping ok",
                "readyz check passed",
            ]


async def test_failing_critical_check_makes_readyz_503(http_target: Any) -> None:
    settings = settings_for({"api": http(http_target.url, ok=reach("/ok"), broken=reach("/status/500"))})
    async with serve(settings) as served:
        await served.wait(lambda: all_ran(served), what="first runs")
        for path in ("/readyz", "/ready"):
            assert (await served.get(path))[:2] == (503, "not ready\n")
            status, body, _ = await served.get(path + "?verbose")
            assert status == 503
            assert body.splitlines() == [
                "[+]api:ok ok",
                "[-]api:broken failed: HTTP 500, expected 200",
                "readyz check failed",
            ]
        # HEAD on the fast path: same status, no body.
        async with served.session.head(served.url + "/readyz") as response:
            assert response.status == 503
            assert await response.read() == b""


async def test_readyz_turns_503_when_a_critical_dependency_dies(redis_factory: Any) -> None:
    redis = redis_factory()
    settings = settings_for(
        {
            "cache": {
                "type": "redis",
                "url": redis.url,
                "connect_timeout": 0.1,
                "socket_timeout": 0.1,
                "pool_timeout": 0.05,
                "checks": {"connectivity": {}},
            }
        }
    )
    async with serve(settings) as served:
        await served.wait(lambda: served.store.ready, what="ready")
        assert (await served.get("/readyz"))[:2] == (200, "ok\n")
        redis.kill()
        await served.wait(lambda: not served.store.ready, timeout=3, what="not ready after kill")
        status, body, _ = await served.get("/readyz?verbose")
        assert status == 503
        assert body.startswith("[-]cache:connectivity failed: ")
        assert (await served.get("/readyz"))[:2] == (503, "not ready\n")


async def test_exclude_is_repeatable_and_unknown_ids_are_404(http_target: Any) -> None:
    settings = settings_for(
        {
            "api": http(http_target.url, ok=reach("/ok"), broken=reach("/status/500")),
            "other": http(http_target.url, broken=reach("/status/503")),
        }
    )
    async with serve(settings) as served:
        await served.wait(lambda: all_ran(served), what="first runs")
        assert (await served.get("/readyz?exclude=api:broken"))[:2] == (503, "not ready\n")
        status, body, _ = await served.get("/readyz?exclude=api:broken&exclude=other:broken")
        assert (status, body) == (200, "ok\n")
        status, body, _ = await served.get("/ready?verbose&exclude=api:broken&exclude=other:broken")
        assert status == 200
        assert body.splitlines() == [
            "[+]api:ok ok",
            "[+]api:broken excluded: ok",
            "[+]other:broken excluded: ok",
            "readyz check passed",
        ]
        status, body, headers = await served.get("/readyz?exclude=api:nope")
        assert status == 404
        assert headers["content-type"] == "application/json"
        assert json.loads(body) == {"error": "not_found", "detail": "unknown check id in exclude: api:nope"}
        assert (await served.get("/readyz/api?exclude=nope"))[0] == 404


async def test_readyz_for_a_component_and_a_check(http_target: Any) -> None:
    async with serve(mixed(http_target)) as served:
        await served.wait(lambda: all_ran(served), what="first runs")
        # A part answers for its own checks whatever their severity.
        assert (await served.get("/readyz/cache"))[:2] == (200, "ok\n")
        assert (await served.get("/readyz/api"))[:2] == (503, "not ready\n")
        status, body, _ = await served.get("/readyz/api?verbose")
        assert status == 503
        assert body.splitlines() == [
            "[+]api:ok ok",
            "[-]api:teapot failed: HTTP 418, expected 200 (degraded: does not gate readiness)",
            "readyz check failed",
        ]
        assert (await served.get("/readyz/api?exclude=api:teapot"))[:2] == (200, "ok\n")
        assert (await served.get("/readyz/api/ok"))[:2] == (200, "ok\n")
        status, body, _ = await served.get("/readyz/api/ok?verbose")
        assert (status, body) == (200, "[+]api:ok ok\nreadyz check passed\n")
        assert (await served.get("/readyz/api/teapot"))[:2] == (503, "not ready\n")
        for path, detail in (
            ("/readyz/nope", "unknown component 'nope'"),
            ("/readyz/api/nope", "unknown check 'nope' in component 'api'"),
        ):
            status, body, headers = await served.get(path)
            assert status == 404
            assert headers["content-type"] == "application/json"
            assert json.loads(body) == {"error": "not_found", "detail": detail}


async def test_unknown_path_and_method_are_json_errors(http_target: Any) -> None:
    async with serve(settings_for({"api": http(http_target.url, ok=reach("/ok"))})) as served:
        status, body, _ = await served.get("/nowhere")
        assert status == 404
        assert json.loads(body)["error"] == "not_found"
        status, body, _ = await served.post("/readyz")
        assert status == 405
        assert json.loads(body)["error"] == "method_not_allowed"


async def test_docs_and_openapi_list_every_endpoint(http_target: Any) -> None:
    async with serve(settings_for({"api": http(http_target.url, ok=reach("/ok"))})) as served:
        status, body, _ = await served.get("/openapi.json")
        assert status == 200
        paths = json.loads(body)["paths"]
        expected = {
            "/livez": "get",
            "/startupz": "get",
            "/readyz": "get",
            "/ready": "get",
            "/readyz/{component}": "get",
            "/readyz/{component}/{check}": "get",
            "/health": "get",
            "/health/{component}": "get",
            "/health/{component}/{check}": "get",
            "/checks/run": "post",
            "/checks/{component}/run": "post",
            "/checks/{component}/{check}/run": "post",
            "/metrics": "get",
            "/": "get",
            "/status": "get",
            "/status.json": "get",
            "/-/reload": "post",
        }
        assert set(paths) == set(expected)
        for path, method in expected.items():
            assert method in paths[path], path
        readyz_params = {p["name"] for p in paths["/readyz"]["get"]["parameters"]}
        assert readyz_params == {"verbose", "exclude", "authorization"}  # a token shows reasons
        status, body, headers = await served.get("/docs")
        assert status == 200
        assert headers["content-type"].startswith("text/html")
        assert "/openapi.json" in body


def test_verbose_lines_keep_one_line_per_check() -> None:
    from app.model import CheckResult, Status
    from app.views.report import verbose_lines

    settings = settings_for({"api": http("http://127.0.0.1:1/", a=reach("/"), b=reach("/"))})
    store, _ = build_engine(settings)
    store.record(CheckResult("api", "a", "http", Status.FAIL, "first line\nsecond line\r\n  third", (), 1.0, 0.1), 1.0)
    ready, body = verbose_lines(list(store.states.values()), set())
    assert not ready
    assert body.splitlines() == [
        "[-]api:a failed: first line second line third",
        "[-]api:b failed: pending: not run yet",
        "readyz check failed",
    ]


async def test_readyz_after_shutdown_began(http_target: Any) -> None:
    async with serve(settings_for({"api": http(http_target.url, ok=reach("/ok"))})) as served:
        await served.wait(lambda: served.store.ready, what="ready")
        served.store.begin_shutdown()  # what SIGTERM does first (see test_cli for the real signal)
        assert (await served.get("/readyz"))[:2] == (503, "shutting down\n")
        assert (await served.get("/ready"))[:2] == (503, "shutting down\n")
        status, body, _ = await served.get("/readyz?verbose")
        assert (status, body) == (503, "[+]api:ok ok\n[-]shutdown failed: shutting down\nreadyz check failed\n")
        # A later passing run does not make it ready again.
        await served.wait(
            lambda: served.store.states[("api", "ok")].runs[served.store.states[("api", "ok")].last.status] >= 3,
            what="more runs",
        )
        assert (await served.get("/readyz"))[0] == 503
        assert (await served.get("/livez"))[:2] == (200, "ok\n")


def test_livez_fails_when_the_scheduler_loop_stalls() -> None:
    from app.api.probes import LIVENESS_STALL, live

    store, _ = build_engine(settings_for({"api": http("http://127.0.0.1:1/", a=reach("/"))}))
    store.beat()
    assert live(store) == (200, b"ok\n")
    store.heartbeat = time.monotonic() - LIVENESS_STALL - 0.1
    assert live(store) == (503, b"scheduler loop stalled\n")


async def test_startup_is_bounded_by_timeouts_not_intervals(http_target: HttpTarget) -> None:
    """An hourly and a daily check (certificate expiry, say) still run once soon after start: /startupz passes
    within initial_delay + FIRST_RUN_SPREAD + timeout, not after a tenth of the interval (6 min and 2.4 h)."""
    timeout = 1.0
    settings = make_settings(
        defaults={"timeout": f"{timeout}s", "jitter": 0.1},
        components={
            "site": http(
                http_target.url,
                hourly={**reach("/"), "interval": "1h"},
                daily={**reach("/"), "interval": "24h"},
            )
        },
    )
    async with serve(settings) as served:
        await wait_until(lambda: all_ran(served), timeout=(FIRST_RUN_SPREAD + timeout) * 3, what="every first run")
        async with served.session.get(f"{served.url}/startupz") as response:
            assert response.status == 200, await response.text()
