"""POST /checks[/component[/check]]/run over real HTTP: fresh results, single-flight, cooldown, 404s."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.conftest import AUTH, FakeClock, http, make_settings, make_token, serve


def bearer() -> dict[str, str]:
    """A fresh token per request: a slow suite must not outlive a token minted once at import."""
    return {"Authorization": f"Bearer {make_token()}"}


SLOW = "/slow?delay=0.5"


def run_settings(http_target: Any, cooldown: float = 0, **checks: Any) -> Any:
    """Checks that are never scheduled during a test (first run after 30 s): only on-demand runs hit the target."""
    return make_settings(
        defaults={"interval": "30s", "timeout": "2s", "initial_delay": "30s", "jitter": 0, "failure_threshold": 1},
        server={"run_cooldown": cooldown, "show_details": "never"},
        auth=AUTH,
        components={
            "api": {
                "type": "http",
                "url": http_target.url,
                "connect_timeout": 0.2,
                "checks": checks
                or {"slow": {"kind": "reachable", "path": SLOW}, "ok": {"kind": "reachable", "path": "/ok"}},
            },
            "web": http(http_target.url, down={"kind": "reachable", "path": "/status/502", "severity": "degraded"}),
        },
    )


async def post_json(served: Any, path: str) -> tuple[int, dict[str, Any]]:
    status, body, headers = await served.post(path, headers=bearer())
    assert headers["content-type"] == "application/health+json", body
    assert headers["cache-control"] == "no-store"
    return status, json.loads(body)


async def test_run_one_check_returns_fresh_results(http_target: Any) -> None:
    async with serve(run_settings(http_target)) as served:
        assert (await served.get("/startupz"))[0] == 503
        before = http_target.hits.get("/ok", 0)
        status, doc = await post_json(served, "/checks/api/ok/run")
        assert status == 200
        assert http_target.hits.get("/ok", 0) == before + 1
        assert doc["status"] == "pass"
        assert set(doc["checks"]) == {"api:ok"}
        entry = doc["checks"]["api:ok"][0]
        assert entry["componentType"] == "http"
        assert entry["lastResult"]["scheduled"] is False
        assert doc["runs"] == {"api:ok": {"status": "pass", "output": entry["output"], "cached": False}}
        assert served.store.states[("api", "ok")].last is not None
        assert served.store.states[("api", "slow")].last is None


async def test_run_all_and_component(http_target: Any) -> None:
    async with serve(run_settings(http_target)) as served:
        status, doc = await post_json(served, "/checks/api/run")
        assert status == 200
        assert set(doc["runs"]) == {"api:ok", "api:slow"}
        assert all(run["status"] == "pass" for run in doc["runs"].values())
        # The degraded web:down fails: the whole system only warns (200), the component alone fails (503).
        status, doc = await post_json(served, "/checks/run")
        assert (status, doc["status"]) == (200, "warn")
        assert set(doc["runs"]) == {"api:ok", "api:slow", "web:down"}
        assert doc["runs"]["web:down"] == {"status": "fail", "output": "HTTP 502, expected 200", "cached": False}
        status, doc = await post_json(served, "/checks/web/run")
        assert (status, doc["status"]) == (503, "fail")
        # Every check has now run once: startup is complete and the system is ready.
        assert (await served.get("/startupz"))[:2] == (200, "ok\n")
        assert (await served.get("/readyz"))[:2] == (200, "ok\n")


async def test_unknown_targets_are_404_after_auth(http_target: Any) -> None:
    async with serve(run_settings(http_target)) as served:
        for path, detail in (
            ("/checks/nope/run", "unknown component 'nope'"),
            ("/checks/api/nope/run", "unknown check 'nope' in component 'api'"),
        ):
            status, body, headers = await served.post(path, headers=bearer())
            assert status == 404
            assert headers["content-type"] == "application/json"
            assert json.loads(body) == {"error": "not_found", "detail": detail}
            # Without a token the caller learns nothing about what exists.
            assert (await served.post(path))[0] == 401
        assert (await served.get("/checks/run"))[0] == 405


async def test_single_flight_concurrent_runs_share_one_execution(http_target: Any) -> None:
    async with serve(run_settings(http_target)) as served:
        before = http_target.hits.get("/slow", 0)
        paths = ["/checks/api/slow/run"] * 20 + ["/checks/api/run"] * 3 + ["/checks/run"] * 2
        results = await asyncio.gather(*(post_json(served, path) for path in paths))
        assert http_target.hits.get("/slow", 0) == before + 1
        assert [status for status, _ in results] == [200] * len(paths)
        times = {doc["checks"]["api:slow"][0]["time"] for _, doc in results}
        assert len(times) == 1  # everyone saw the same run
        assert all(doc["runs"]["api:slow"]["status"] == "pass" for _, doc in results)
        assert served.store.states[("api", "slow")].runs[served.store.states[("api", "slow")].last.status] == 1


async def test_cooldown_returns_the_cached_result(http_target: Any) -> None:
    async with serve(run_settings(http_target, cooldown=30)) as served:
        before = http_target.hits.get("/ok", 0)
        _, first = await post_json(served, "/checks/api/ok/run")
        assert first["runs"]["api:ok"]["cached"] is False
        for path in ("/checks/api/ok/run", "/checks/api/run", "/checks/run"):
            _, again = await post_json(served, path)
            assert again["runs"]["api:ok"]["cached"] is True
            assert again["checks"]["api:ok"][0]["time"] == first["checks"]["api:ok"][0]["time"]
        assert http_target.hits.get("/ok", 0) == before + 1
        # api:slow first ran on demand through /checks/api/run above, then came from the cache.
        _, doc = await post_json(served, "/checks/api/slow/run")
        assert doc["runs"]["api:slow"]["cached"] is True


async def test_cooldown_is_per_check(http_target: Any) -> None:
    async with serve(run_settings(http_target, cooldown=30)) as served:
        _, doc = await post_json(served, "/checks/api/ok/run")
        assert doc["runs"]["api:ok"]["cached"] is False
        _, doc = await post_json(served, "/checks/api/run")
        assert doc["runs"] == {
            "api:ok": {**doc["runs"]["api:ok"], "cached": True},
            "api:slow": {**doc["runs"]["api:slow"], "cached": False},
        }


async def test_cooldown_expires(http_target: Any) -> None:
    async with serve(run_settings(http_target, cooldown=30)) as served:
        served.scheduler.clock = clock = FakeClock()
        before = http_target.hits.get("/ok", 0)
        await post_json(served, "/checks/api/ok/run")
        clock.advance(29.9)
        _, doc = await post_json(served, "/checks/api/ok/run")
        assert doc["runs"]["api:ok"]["cached"] is True
        clock.advance(0.1)
        _, doc = await post_json(served, "/checks/api/ok/run")
        assert doc["runs"]["api:ok"]["cached"] is False
        assert http_target.hits.get("/ok", 0) == before + 2


async def test_a_request_body_cannot_choose_the_target(http_target: Any) -> None:
    async with serve(run_settings(http_target)) as served:
        before = dict(http_target.hits)
        status, body, _ = await served.post(
            "/checks/api/ok/run?url=http://127.0.0.1:1/&path=/text",
            headers=bearer(),
            json={"url": "http://127.0.0.1:1/", "path": "/text"},
        )
        assert status == 200
        assert json.loads(body)["runs"]["api:ok"]["status"] == "pass"
        assert http_target.hits.get("/ok", 0) == before.get("/ok", 0) + 1
        assert http_target.hits.get("/text", 0) == before.get("/text", 0)


async def test_concurrent_runs_after_the_cooldown_all_get_the_fresh_result(http_target: Any) -> None:
    async with serve(run_settings(http_target, cooldown=30)) as served:
        served.scheduler.clock = clock = FakeClock()
        _, first = await post_json(served, "/checks/api/slow/run")
        clock.advance(30)  # past the cooldown: the next request runs the check again
        before = http_target.hits.get("/slow", 0)
        results = await asyncio.gather(*(post_json(served, "/checks/api/slow/run") for _ in range(10)))
        assert http_target.hits.get("/slow", 0) == before + 1
        times = {doc["checks"]["api:slow"][0]["time"] for _, doc in results}
        assert times != {first["checks"]["api:slow"][0]["time"]}
        assert len(times) == 1  # everyone got the run they waited for, not the previous one
