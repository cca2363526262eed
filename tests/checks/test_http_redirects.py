"""Redirects of a `reachable` check (app/checks/http/redirects.py): followed to the component's own origin with its
headers; to another origin only when the check lists it, and then without the component's headers or token; never
elsewhere. Two real loopback servers, on 127.0.0.1 and 127.0.0.2."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from app.checks.http.redirects import Refused, next_hop, origin
from app.config.settings import ConfigError, load_settings
from app.model import Status
from devenv.servers import free_port
from tests.conftest import make_settings, run_check

API_KEY = "k-3f1c0a9e7b2d4c6a8e0f"
TOKEN = "bearer-4a7d9c2e1b0f3e5d"


class Site:
    """A loopback web server that records the headers of every request it gets."""

    def __init__(self, host: str, redirect_to: str | None = None) -> None:
        self.host, self.port = host, free_port()
        self.redirect_to = redirect_to  # where /hop sends the client
        self.seen: list[dict[str, str]] = []
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(dict(request.headers))
        if request.path == "/hop":
            raise web.HTTPFound(self.redirect_to or "/landing")
        return web.Response(text="landed")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def sites() -> AsyncIterator[tuple[Site, Site]]:
    other = Site("127.0.0.2")
    home = Site("127.0.0.1", redirect_to=f"{other.url}/admin/config")
    await other.start()
    await home.start()
    yield home, other
    await home.stop()
    await other.stop()


def settings(home: Site, **options: Any) -> Any:
    component = {
        "type": "http",
        "url": home.url + "/",
        "connect_timeout": 0.5,
        "headers": {"X-Api-Key": API_KEY},
        "bearer_token": TOKEN,
        "checks": {"r": {"kind": "reachable", "path": "/hop", "follow_redirects": True, **options}},
    }
    return make_settings(defaults={"interval": 5, "timeout": 2}, components={"api": component})


async def test_a_redirect_to_another_origin_is_not_followed_unless_listed(sites: tuple[Site, Site]) -> None:
    home, other = sites
    result = await run_check(settings(home), "api", "r")
    assert (result.status, result.output) == (
        Status.FAIL,
        f"HTTP 302 redirects to another origin (http://127.0.0.2:{other.port}), not followed: "
        "list it in redirect_origins to follow it (without the component's headers)",
    )
    assert other.seen == []  # nothing reached the other service, least of all the key
    assert home.seen[0]["X-Api-Key"] == API_KEY


async def test_a_listed_origin_is_followed_without_the_components_headers(sites: tuple[Site, Site]) -> None:
    home, other = sites
    result = await run_check(settings(home, redirect_origins=[other.url]), "api", "r")
    assert result.status is Status.PASS, result.output
    assert {o.name: o.value for o in result.observed}["redirects"] == 1
    assert len(other.seen) == 1
    assert "X-Api-Key" not in other.seen[0] and "Authorization" not in other.seen[0]
    assert API_KEY not in str(other.seen) and TOKEN not in str(other.seen)


async def test_a_same_origin_redirect_keeps_the_components_headers(sites: tuple[Site, Site]) -> None:
    home, other = sites
    home.redirect_to = f"http://127.0.0.1:{home.port}/landing"  # absolute, same origin
    result = await run_check(settings(home), "api", "r")
    assert result.status is Status.PASS, result.output
    assert [seen["X-Api-Key"] for seen in home.seen] == [API_KEY, API_KEY]
    assert [seen["Authorization"] for seen in home.seen] == [f"Bearer {TOKEN}"] * 2
    assert other.seen == []


def test_the_rule_compares_whole_origins() -> None:
    home = "http://api.example/"
    assert origin("HTTP://API.example:80/x") == origin("http://api.example/") == "http://api.example:80"
    assert next_hop(200, None, home, "GET", home, []) is None
    same = next_hop(303, "/next", home + "form", "POST", home, [])
    assert same is not None and (same.url, same.method, same.same_origin) == ("http://api.example/next", "GET", True)
    for location in ("https://api.example/", "http://api.example:8080/", "http://evil.example/"):
        with pytest.raises(Refused, match="another origin"):
            next_hop(302, location, home, "GET", home, [])
    listed = next_hop(307, "https://login.example/sso", home, "POST", home, ["https://login.example"])
    assert listed is not None and (listed.method, listed.same_origin) == ("POST", False)
    with pytest.raises(Refused, match="without a Location"):
        next_hop(301, None, home, "GET", home, [])
    with pytest.raises(Refused, match="a file: URL"):
        next_hop(302, "file:///etc/passwd", home, "GET", home, [])


def test_redirect_origins_are_validated(tmp_path: Path) -> None:
    def problems(check: dict[str, Any]) -> str:
        path = tmp_path / "vigil.yaml"
        component = {"type": "http", "url": "http://api.example/", "checks": {"r": {"kind": "reachable", **check}}}
        path.write_text(yaml.safe_dump({"components": {"api": component}}))
        with pytest.raises(ConfigError) as caught:
            load_settings(path)
        return " ".join(caught.value.problems)

    assert "redirects are followed only with follow_redirects: true" in problems(
        {"redirect_origins": ["https://login.example"]}
    )
    assert "is not an origin" in problems({"follow_redirects": True, "redirect_origins": ["https://login.example/x"]})
