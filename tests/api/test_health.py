"""GET /health[/component[/check]] over real HTTP: application/health+json, status codes, show_details."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

import pytest

from tests.conftest import AUTH, FAST, all_ran, http, make_settings, make_token, reach, serve


def mixed(http_target: Any, show_details: str = "always", auth: dict[str, Any] | None = None) -> Any:
    return make_settings(
        defaults=FAST,
        server={"show_details": show_details},
        auth=auth,
        components={
            "api": http(http_target.url, ok=reach("/ok"), teapot=reach("/status/418", severity="degraded")),
            "web": http(http_target.url, down=reach("/status/500")),
            "cache": http(http_target.url, ping=reach("/ok")),
        },
    )


async def get_json(served: Any, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    status, body, headers = await served.get(path, **kwargs)
    assert headers["content-type"] == "application/health+json", (path, headers["content-type"])
    assert headers["cache-control"] == "no-store"
    return status, json.loads(body)


def parse_time(value: str) -> datetime:
    assert value.endswith("Z")
    return datetime.fromisoformat(value)


async def test_health_document_has_the_draft_fields(http_target: Any) -> None:
    async with serve(mixed(http_target)) as served:
        await served.wait(lambda: all_ran(served), what="first runs")
        status, doc = await get_json(served, "/health")
        # web:down is critical and failing: the whole system is fail -> 503.
        assert status == 503
        assert doc["status"] == "fail"
        assert doc["serviceId"] == "vigil"
        assert set(doc["checks"]) == {"api:ok", "api:teapot", "web:down", "cache:ping"}
        entry = doc["checks"]["api:ok"]
        assert isinstance(entry, list) and len(entry) == 1
        ok = entry[0]
        assert ok["componentId"] == "api"
        assert ok["componentType"] == "http"
        assert ok["status"] == "pass"
        assert ok["severity"] == "critical"
        assert ok["output"].startswith("HTTP 200 in ")
        assert ok["observedUnit"] == "s"
        assert 0 < ok["observedValue"] < 0.25  # inside the timeout: a later answer is no pass
        assert ok["observations"]["status_code"] == {"value": 200, "unit": None}
        parse_time(ok["time"])
        parse_time(ok["lastSuccess"])
        assert set(ok["availability"]) == {"5m", "1h", "24h"}
        assert ok["availability"]["5m"] == 1.0
        assert ok["transitions"][-1]["from"] == "pending"
        assert ok["transitions"][-1]["to"] == "pass"
        down = doc["checks"]["web:down"][0]
        assert down["status"] == "fail"
        assert down["output"] == "HTTP 500, expected 200"
        assert down["availability"]["5m"] == 0.0
        assert down["consecutiveFailures"] >= 1
        assert down["lastSuccess"] is None
        teapot = doc["checks"]["api:teapot"][0]
        assert (teapot["status"], teapot["severity"]) == ("fail", "degraded")
        # Recent transitions of the whole system, newest first.
        assert {t["check"] for t in doc["transitions"]} == set(doc["checks"])
        times = [t["time"] for t in doc["transitions"]]
        assert times == sorted(times, reverse=True)


async def test_health_status_codes_per_part(http_target: Any) -> None:
    async with serve(mixed(http_target)) as served:
        await served.wait(lambda: all_ran(served), what="first runs")
        status, doc = await get_json(served, "/health/cache")
        assert (status, doc["status"]) == (200, "pass")
        assert set(doc["checks"]) == {"cache:ping"}
        status, doc = await get_json(served, "/health/web")
        assert (status, doc["status"]) == (503, "fail")
        # A component reports its own worst state: a failing degraded check fails the component.
        status, doc = await get_json(served, "/health/api")
        assert (status, doc["status"]) == (503, "fail")
        assert set(doc["checks"]) == {"api:ok", "api:teapot"}
        status, doc = await get_json(served, "/health/api/ok")
        assert (status, doc["status"]) == (200, "pass")
        assert set(doc["checks"]) == {"api:ok"}
        status, doc = await get_json(served, "/health/api/teapot")
        assert (status, doc["status"]) == (503, "fail")


async def test_degraded_failure_only_warns_the_whole_system(http_target: Any) -> None:
    settings = make_settings(
        defaults=FAST,
        server={"show_details": "always"},
        components={"api": http(http_target.url, ok=reach("/ok"), teapot=reach("/status/418", severity="degraded"))},
    )
    async with serve(settings) as served:
        await served.wait(lambda: all_ran(served), what="first runs")
        status, doc = await get_json(served, "/health")
        assert (status, doc["status"]) == (200, "warn")
        assert doc["checks"]["api:teapot"][0]["status"] == "fail"


async def test_warn_is_200(http_target: Any) -> None:
    settings = make_settings(
        defaults=FAST,
        server={"show_details": "always"},
        components={"api": http(http_target.url, slowish=reach("/slow?delay=0.03", latency_warn="1ms"))},
    )
    async with serve(settings) as served:
        await served.wait(lambda: all_ran(served), what="first run")
        status, doc = await get_json(served, "/health/api/slowish")
        assert (status, doc["status"]) == (200, "warn")
        assert doc["checks"]["api:slowish"][0]["output"].startswith("GET took ")
        # A critical check that warns still counts as ready.
        assert (await served.get("/readyz"))[:2] == (200, "ok\n")
        verbose = (await served.get("/readyz?verbose"))[1]
        assert verbose.startswith("[+]api:slowish warn: GET took ") and verbose.endswith("\nreadyz check passed\n")


async def test_health_before_first_run_is_503(http_target: Any) -> None:
    settings = make_settings(
        defaults=FAST,
        server={"show_details": "always"},
        components={"api": http(http_target.url, later=reach("/ok", initial_delay="2s", interval="3s", timeout="1s"))},
    )
    async with serve(settings) as served:
        status, doc = await get_json(served, "/health")
        assert (status, doc["status"]) == (503, "fail")
        entry = doc["checks"]["api:later"][0]
        assert entry["output"] == "pending: not run yet"
        assert entry["state"] == "pending"
        assert entry["time"] is None


async def test_unknown_component_or_check_is_404_json(http_target: Any) -> None:
    async with serve(mixed(http_target)) as served:
        for path, detail in (
            ("/health/nope", "unknown component 'nope'"),
            ("/health/api/nope", "unknown check 'nope' in component 'api'"),
            ("/health/nope/ok", "unknown component 'nope'"),
        ):
            status, body, headers = await served.get(path)
            assert status == 404
            assert headers["content-type"] == "application/json"
            assert json.loads(body) == {"error": "not_found", "detail": detail}


@pytest.mark.parametrize(
    ("mode", "header", "details"),
    [
        ("never", None, False),
        ("never", "good", False),
        ("always", None, True),
        ("when_authorized", None, False),
        ("when_authorized", "good", True),
        ("when_authorized", "noscope", True),  # details need a valid token, not the run scope
        ("when_authorized", "expired", False),
        ("when_authorized", "wrongkey", False),
        ("when_authorized", "garbage", False),
    ],
)
async def test_show_details(http_target: Any, mode: str, header: str | None, details: bool) -> None:
    tokens = {
        "good": make_token(),
        "noscope": make_token(scope=None),
        "expired": make_token(expires_in=-60),
        "wrongkey": make_token(secret="another-secret-of-sufficient-length-0123456789"),
        "garbage": "not-a-jwt",
    }
    headers = {"Authorization": f"Bearer {tokens[header]}"} if header else {}
    async with serve(mixed(http_target, show_details=mode, auth=AUTH)) as served:
        await served.wait(lambda: all_ran(served), what="first runs")
        for path in ("/health", "/health/cache", "/health/cache/ping"):
            status, doc = await get_json(served, path, headers=headers)
            assert status == (503 if path == "/health" else 200)
            if details:
                assert "checks" in doc and doc["status"] in ("pass", "fail")
            else:
                # Without details only the status is told (it is what the HTTP status says anyway).
                assert doc == {"status": "fail" if path == "/health" else "pass"}


async def test_when_authorized_without_auth_config_hides_details(http_target: Any) -> None:
    async with serve(mixed(http_target, show_details="when_authorized")) as served:
        await served.wait(lambda: all_ran(served), what="first runs")
        _, doc = await get_json(served, "/health/cache", headers={"Authorization": f"Bearer {make_token()}"})
        assert doc == {"status": "pass"}


async def test_members_are_brought_up_to_date_in_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before a detailed document is joined, changed members are encoded a slice at a time, yielding to the loop
    in between (a new history slot re-encodes every one of them); the join then finds them all ready."""
    from app.api import health as route
    from app.engine import slices
    from app.main import build_engine
    from app.views.report import EntryMemo, encoded_health

    settings = make_settings(
        components={"api": http("http://127.0.0.1:1/", **{f"c{i}": reach("/") for i in range(50)})}
    )
    store, _ = build_engine(settings)
    states = list(store.states.values())
    memo = EntryMemo()
    monkeypatch.setattr(slices, "SLICE", 0.0)  # yield after every member
    ran_meanwhile = []
    asyncio.get_running_loop().call_soon(lambda: ran_meanwhile.append(len(memo._members)))
    await route._warm(store, states, memo)
    assert ran_meanwhile and ran_meanwhile[0] < len(states)  # the loop ran other work before the last member
    assert len(memo._members) == len(states)
    encoded = {id(body) for body in (m[4] for m in memo._members.values())}
    encoded_health(store, states, memo, details=True)
    assert {id(m[4]) for m in memo._members.values()} == encoded  # the join re-encoded nothing
