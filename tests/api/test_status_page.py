"""The status page: its JSON over real HTTP, and the page itself in a real headless Chromium (Debian `chromium` and
`chromium-driver`, driven by Selenium) against the real app under uvicorn, real Redis servers and HTTP targets.

Selenium blocks, and the app serves from this test's event loop, so every browser call runs in a worker thread.
Screenshots go to the test's tmp_path, or to docs/ when VIGIL_SCREENSHOTS=1 (for the README).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from app.engine.history import SLOT
from app.model import CheckResult, Status
from tests import conftest
from tests.conftest import AUTH, FAST, all_ran, http, make_settings, make_token, reach, redis_component, serve, within

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
)
# Seconds between the page's polls of status.json while the tab is visible, as status.js says.
STATUS_JS = (Path(__file__).parents[2] / "app" / "static" / "status.js").read_text()
POLL = int(re.search(r"const POLL_MS = (\d+);", STATUS_JS)[1]) / 1000  # type: ignore[index]
REDIS_TIMEOUTS = {"connect_timeout": 0.1, "socket_timeout": 0.1, "pool_timeout": 0.05}
DOCS = Path(__file__).resolve().parents[2] / "docs"
ABSOLUTE_URL = re.compile(r"""(?:https?:)?//[a-z0-9.-]+""", re.IGNORECASE)


# -- the browser ------------------------------------------------------------------------------------------


class Browser:
    """A headless Chromium under chromedriver; the async methods run the blocking calls in a worker thread."""

    def __init__(self, profile: Path) -> None:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)  # with the driver's path below, Selenium Manager never runs
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={profile}")
        options.add_argument("--window-size=1280,1000")
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        self.driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
        self.requested: list[str] = []

    async def run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    async def open(self, url: str) -> None:
        await self.run(self.driver.get, url)

    async def js(self, script: str, *args: Any) -> Any:
        return await self.run(self.driver.execute_script, script, *args)

    async def value(self, expression: str) -> Any:
        return await self.js(f"return ({expression})")

    async def until(self, expression: str, timeout: float = 20.0, what: str = "condition") -> Any:
        """Wait (on the DOM, in a thread) until the JS `expression` is truthy; its value."""

        def wait() -> Any:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(
                lambda d: d.execute_script(f"return ({expression})"), f"timed out after {timeout}s waiting for {what}"
            )

        return await self.run(wait)

    async def cdp(self, command: str, params: dict[str, Any]) -> Any:
        return await self.run(self.driver.execute_cdp_cmd, command, params)

    async def screenshot(self, path: Path, full_page: bool = False) -> None:
        """A PNG of the viewport, or of the whole page (`full_page`: Chrome captures beyond the viewport)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        if not full_page:
            assert await self.run(self.driver.save_screenshot, str(path)), path
            return
        height = await self.value("document.documentElement.scrollHeight")
        width = await self.value("document.documentElement.clientWidth")
        clip = {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}
        shot = await self.cdp("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip})
        path.write_bytes(base64.b64decode(shot["data"]))

    async def console_errors(self) -> list[str]:
        entries = await self.run(self.driver.get_log, "browser")
        return [e["message"] for e in entries if e["level"] == "SEVERE"]

    async def requests(self, origin: str) -> list[str]:
        """Every URL a page of `origin` asked for so far (Chrome's network events: failed requests included;
        the browser's own pages, such as its new-tab page before the test navigates, left out)."""
        for entry in await self.run(self.driver.get_log, "performance"):
            message = json.loads(entry["message"])["message"]
            params = message["params"]
            if message["method"] == "Network.requestWillBeSent" and params.get("documentURL", "").startswith(origin):
                self.requested.append(params["request"]["url"])
        return self.requested

    def quit(self) -> None:
        self.driver.quit()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail(
            "the status page tests need Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)"
        )
    driver = Browser(tmp_path / "chromium-profile")
    yield driver
    driver.quit()


def artifact(tmp_path: Path, name: str) -> Path:
    return DOCS / name if os.environ.get("VIGIL_SCREENSHOTS") == "1" else tmp_path / name


# JS expressions over the page.
STATES = "Object.fromEntries([...document.querySelectorAll('tbody.check')].map(r => [r.id.slice(4), r.dataset.state]))"
ROWS = "[...document.querySelectorAll('tbody.check')].map(r => r.id.slice(4)).sort().join(' ')"


def text(selector: str) -> str:
    return f"(document.querySelector({json.dumps(selector)}) || {{}}).textContent"


def state_of(check_id: str) -> str:
    return f"(document.getElementById('chk-{check_id}') || {{dataset: {{}}}}).dataset.state"


def in_row(check_id: str, selector: str) -> str:
    """The text of `selector` inside a check's rows (null when there is none)."""
    return (
        f"(() => {{ const r = document.getElementById('chk-{check_id}'), e = r && r.querySelector({json.dumps(selector)});"
        " return e ? e.textContent : null; })()"
    )


# -- settings ---------------------------------------------------------------------------------------------


def mixed(redis_url: str, http_url: str, auth: dict[str, Any] | None = None) -> Any:
    """Passing (Redis, HTTP 200), warning (slower than latency_warn) and failing (HTTP 500 critical, 418 degraded)."""
    return make_settings(
        defaults=FAST,
        server={"show_details": "always"},
        auth=auth,
        components={
            "cache": redis_component(redis_url, {"connectivity": {}}, **REDIS_TIMEOUTS),
            "api": http(
                http_url,
                ok=reach("/ok"),
                slowish=reach("/slow?delay=0.03", latency_warn="1ms"),
                down=reach("/status/500"),
                teapot=reach("/status/418", severity="degraded"),
            ),
        },
    )


# -- the JSON ---------------------------------------------------------------------------------------------


async def test_json_is_built_once_per_version_and_shared(http_target: Any) -> None:
    settings = make_settings(
        defaults={"interval": "30s", "timeout": "2s", "initial_delay": "30s", "jitter": 0},  # nothing runs by itself
        server={"show_details": "when_authorized", "run_cooldown": 0},
        auth=AUTH,
        components={"api": http(http_target.url, ok=reach("/ok"), down=reach("/status/500"))},
    )
    async with serve(settings) as served:
        first, second = await asyncio.gather(served.get("/status.json"), served.get("/status.json"))
        cache = served.app.state.services.status
        assert cache.builds == 1, "two concurrent polls of one version share one build"
        assert first[0] == second[0] == 200
        assert first[1] == second[1]
        etag = first[2]["etag"]
        assert first[2]["cache-control"] == "no-store"
        status, body, _ = await served.get("/status.json", headers={"If-None-Match": etag})
        assert (status, body) == (304, "")
        assert cache.builds == 1
        # A token-holder's view (details) is another document; anonymous pollers keep sharing theirs.
        bearer = {"Authorization": f"Bearer {make_token()}"}
        await served.post("/checks/run", headers=bearer)
        assert all_ran(served)
        anonymous = json.loads((await served.get("/status.json"))[1])
        detailed = json.loads((await served.get("/status.json", headers=bearer))[1])
        await asyncio.gather(*(served.get("/status.json") for _ in range(5)))
        assert cache.builds == 3
        assert (anonymous["details"], detailed["details"]) == (False, True)
        rows = {c["id"]: c for comp in detailed["components"] for c in comp["checks"]}
        assert rows["api:down"]["output"] == "HTTP 500, expected 200"
        assert rows["api:ok"]["output"] is None  # outputs of passing checks are not sent
        hidden = {c["id"]: c for comp in anonymous["components"] for c in comp["checks"]}
        assert hidden["api:down"]["state"] == "fail" and hidden["api:down"]["output"] is None
        assert all(t["reason"] is None for t in anonymous["transitions"])
        assert anonymous["readiness"]["blocking"] == [{"id": "api:down", "state": "fail"}]
        assert anonymous["readiness"]["ready"] is False


async def test_page_and_assets_are_served_with_a_strict_policy(http_target: Any) -> None:
    settings = make_settings(defaults=FAST, components={"api": http(http_target.url, ok=reach("/ok"))})
    async with serve(settings) as served:
        for path in ("/", "/status"):
            status, body, headers = await served.get(path)
            assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
            assert "default-src 'none'" in headers["content-security-policy"]
            assert "connect-src 'self'" in headers["content-security-policy"]
            assert '<script type="module" src="status.js"></script>' in body
        for path, media in (
            ("/status.css", "text/css"),
            ("/status.js", "text/javascript"),
            ("/status-view.js", "text/javascript"),
        ):
            status, body, headers = await served.get(path)
            assert status == 200 and headers["content-type"].startswith(media)
            assert (await served.get(path, headers={"If-None-Match": headers["etag"]}))[0] == 304
        # Nothing the page is made of names another host (no CDN, no fonts, no absolute URL at all).
        for path in ("/", "/status.css", "/status.js", "/status-view.js"):
            assert ABSOLUTE_URL.findall((await served.get(path))[1]) == [], path
        status, body, headers = await served.get("/status.json", headers={"Accept-Encoding": "gzip"})
        assert status == 200 and headers["content-type"] == "application/json"


# -- the page in a browser --------------------------------------------------------------------------------


async def test_page_shows_passing_warning_and_failing_checks(
    redis_factory: Any, http_target: Any, browser: Browser, tmp_path: Path
) -> None:
    redis = redis_factory()
    async with serve(mixed(redis.url, http_target.url)) as served:
        await served.wait(lambda: all_ran(served), what="first runs")
        await browser.open(served.url + "/")
        want = {
            "cache:connectivity": "pass",
            "api:ok": "pass",
            "api:slowish": "warn",
            "api:down": "fail",
            "api:teapot": "fail",
        }
        await browser.until(
            f"JSON.stringify({STATES}) === {json.dumps(json.dumps(want, separators=(',', ':')))}"
            " && document.querySelectorAll('.spark').length >= 5",
            what="every row in its state, with a sparkline",
        )
        # Colour is never alone: each state has its text label and an icon of its own shape.
        badges = await browser.value(
            "[...document.querySelectorAll('tbody.check')].map(r => { const b = r.querySelector('.badge'),"
            " i = getComputedStyle(b.querySelector('.ic')); return [r.id.slice(4), b.className,"
            " b.querySelector('.lbl').textContent, i.clipPath + '|' + i.borderTopStyle + '|' + i.backgroundColor]; })"
        )
        assert {b[0]: (b[1], b[2]) for b in badges} == {k: (f"badge s-{v}", v.capitalize()) for k, v in want.items()}
        shapes = {b[0]: b[3] for b in badges}
        assert len({shapes["api:ok"], shapes["api:slowish"], shapes["api:down"]}) == 3, shapes
        # Outputs of non-passing checks, none for passing ones; severity.
        assert await browser.value(in_row("api:down", "pre.out")) == "HTTP 500, expected 200"
        assert await browser.value(in_row("api:teapot", "pre.out")) == "HTTP 418, expected 200"
        assert (await browser.value(in_row("api:slowish", "pre.out"))).startswith("GET took ")
        assert await browser.value(in_row("api:ok", "tr.more")) is None
        assert await browser.value(in_row("cache:connectivity", "tr.more")) is None
        assert await browser.value(in_row("api:teapot", ".tag")) == "degraded"
        assert await browser.value(in_row("api:down", ".tag")) == "critical"
        # The top: readiness and why (the failing critical check named), counts, transitions.
        assert await browser.value(text("#verdict")) == "Not ready"
        reason = await browser.value(text("#reason"))
        assert "api:down" in reason and "api:teapot" not in reason, reason
        assert await browser.value("[...document.querySelectorAll('.blocking a')].map(a => a.textContent)") == [
            "api:down"
        ]
        counts = await browser.value(
            "Object.fromEntries([...document.querySelectorAll('#counts li')].map(l => [l.dataset.count, l.textContent]))"
        )
        assert counts == {"pass": "2 pass", "warn": "1 warn", "fail": "2 fail", "pending": "0 pending"}
        transitions = await browser.value("[...document.querySelectorAll('#transitions li')].map(l => l.textContent)")
        assert any("api:down" in t and "HTTP 500, expected 200" in t for t in transitions), transitions
        # Last run, availability, the 24 h bar, the duration sparkline.
        assert re.fullmatch(r"just now|\d+ s ago", await browser.value(in_row("api:down", ".last"))), "last run"
        assert await browser.value(in_row("api:down", ".avail")) == "5m 0.0%1h 0.0%24h 0.0%"
        assert await browser.value(in_row("api:ok", ".avail")) == "5m 100%1h 100%24h 100%"
        assert await browser.value("document.querySelector('#chk-api\\\\:down .bar').viewBox.baseVal.width") == 48
        assert await browser.value("document.querySelectorAll('#chk-api\\\\:down .spark polyline').length") == 1
        # Hovering a bar cell gives its time span and the worst result in it.
        rect = await browser.run(browser.driver.find_element, By.CSS_SELECTOR, "#chk-api\\:down .bar rect:last-of-type")
        await browser.run(lambda: ActionChains(browser.driver).move_to_element(rect).perform())
        tip = await browser.until(in_row("api:down", ".bar rect:last-of-type title"), what="the cell's tooltip")
        assert re.search(r" – now: fail \(\d+ failed, 0 warned of \d+ runs\)$", tip), tip
        assert await browser.value(text("#conn-text")) == "Live"
        # No console error, and no request that left the app's own origin.
        assert await browser.console_errors() == []
        requested = await browser.requests(served.url + "/")
        assert any(u.endswith("/status.json") for u in requested)
        assert [u for u in requested if not u.startswith(served.url + "/") and not u.startswith("data:")] == []
        await browser.screenshot(tmp_path / "status-mixed.png")


async def test_page_follows_a_redis_stopped_and_started(redis_factory: Any, browser: Browser) -> None:
    redis = redis_factory()
    settings = make_settings(
        defaults=FAST,
        server={"show_details": "always"},
        components={"cache": redis_component(redis.url, {"connectivity": {}}, **REDIS_TIMEOUTS)},
    )
    state = state_of("cache:connectivity")
    async with serve(settings) as served:
        await browser.open(served.url + "/status")
        await browser.until(f"{state} === 'pass'", what="cache:connectivity passing")
        assert await browser.value(text("#verdict")) == "Ready"
        redis.terminate()
        stopped = time.monotonic()
        await browser.until(f"{state} === 'fail'", timeout=15, what="the page to show the stopped Redis")
        took_down = time.monotonic() - stopped
        assert await browser.value(text("#verdict")) == "Not ready"
        output = await browser.value(in_row("cache:connectivity", "pre.out"))
        assert "redis" in output.lower(), output
        redis.start()
        started = time.monotonic()
        await browser.until(f"{state} === 'pass'", timeout=15, what="the page to show Redis back")
        took_up = time.monotonic() - started
        assert await browser.value(text("#verdict")) == "Ready"
        # A poll every 2 s and a run every 300 ms: a few seconds each way (about 2.5 s when the machine is idle).
        assert took_down < within(POLL + 0.3) and took_up < within(POLL + 0.3), (took_down, took_up)
        assert await browser.console_errors() == []


async def test_page_never_says_pass_alone_while_the_last_run_failed(
    redis_factory: Any, browser: Browser, tmp_path: Path
) -> None:
    """A failed run below failure_threshold: the row says it beside Pass, the Ready card names the check, the top
    says since when it is ready; the reason is withheld without a token (and the page says how to see it)."""
    redis = redis_factory()
    settings = make_settings(
        defaults={"interval": "1h", "timeout": "1s", "failure_threshold": 3, "jitter": 0},
        server={"show_details": "when_authorized", "run_cooldown": 0},
        auth=AUTH,
        components={"cache": {"type": "redis", "url": redis.url, **REDIS_TIMEOUTS, "checks": {"connectivity": {}}}},
    )
    row = "cache:connectivity"
    async with serve(settings) as served:
        await served.wait(lambda: all_ran(served), what="the first run")
        await browser.open(served.url + "/")
        await browser.until(f"{state_of(row)} === 'pass'", what="the check passing")
        assert (await browser.value(text("#since"))).startswith("since ")
        assert await browser.value(in_row(row, "p.held")) is None
        redis.terminate()
        bearer = {"Authorization": f"Bearer {make_token()}"}
        status, body, _ = await served.post("/checks/cache/connectivity/run", headers=bearer)
        assert json.loads(body)["runs"][row]["status"] == "fail"
        held = await browser.until(in_row(row, "p.held"), what="the failed run beside Pass")
        assert held == (
            "Pass · last run failed (1 of 3 before it is reported as failing): "
            "reason withheld (see the note above the checks)"
        )
        assert await browser.value(state_of(row)) == "pass"
        assert await browser.value(in_row(row, ".tag.held")) == "last run failed"
        assert await browser.value(text("#verdict")) == "Ready"
        assert row in await browser.value(text("#reason"))
        assert await browser.value("[...document.querySelectorAll('.problems a')].map(a => a.textContent)") == [row]
        assert "valid bearer token" in await browser.value(text("#details-note"))
        # With a token the reason is shown.
        await browser.js(f"sessionStorage.setItem('vigil.token', {json.dumps(make_token(expires_in=600))})")
        await browser.open(served.url + "/")
        reason = await browser.until(
            f"(({in_row(row, 'p.held')}) || '').includes('{redis.port}') && {in_row(row, 'p.held')}",
            what="the failed run's reason",
        )
        assert reason.startswith("Pass · last run failed (1 of 3 before it is reported as failing): "), reason
        await browser.screenshot(tmp_path / "status-held.png")
        assert await browser.console_errors() == []


async def test_run_from_the_page_with_a_token(http_target: Any, browser: Browser) -> None:
    settings = make_settings(
        defaults={"interval": "60s", "timeout": "2s", "initial_delay": "60s", "jitter": 0, "failure_threshold": 1},
        server={"show_details": "when_authorized", "run_cooldown": 0},
        auth=AUTH,
        components={"api": http(http_target.url, ok=reach("/ok"), down=reach("/status/502"))},
    )
    async with serve(settings) as served:
        await browser.open(served.url + "/")
        await browser.until(f"{state_of('api:ok')} === 'pending'", what="a pending check")
        assert await browser.value("document.getElementById('token-form').hidden") is False
        assert "hidden until a valid bearer token" in await browser.value(text("#details-note"))
        # Without a token, a run asks for one and sends nothing.
        await browser.js("document.querySelector('button[data-run=\"api/ok\"]').click()")
        await browser.until("document.activeElement.id === 'token'", what="focus on the token field")
        assert "Paste a token first" in await browser.value(text("#token-state"))
        assert served.store.states[("api", "ok")].last is None
        before = http_target.hits.get("/ok", 0)
        # Pasted once: kept in sessionStorage only, and the field is emptied.
        token = make_token()
        field = await browser.run(browser.driver.find_element, By.ID, "token")
        await browser.run(field.send_keys, token + Keys.ENTER)
        storage = await browser.until(
            "sessionStorage.getItem('vigil.token') && {session: sessionStorage.getItem('vigil.token'),"
            " local: localStorage.length, cookie: document.cookie, field: document.getElementById('token').value}",
            what="the token kept",
        )
        assert storage == {"session": token, "local": 0, "cookie": "", "field": ""}
        # Run one check from the keyboard: its fresh result shows, then its row follows.
        await browser.js("document.querySelector('button[data-run=\"api/ok\"]').focus()")
        await browser.run(lambda: ActionChains(browser.driver).send_keys(Keys.ENTER).perform())
        result = await browser.until(in_row("api:ok", ".run-result[data-run-result]"), what="the run's result")
        assert "Pass" in result and "HTTP 200 in " in result, result
        assert http_target.hits.get("/ok", 0) == before + 1
        await browser.until(f"{state_of('api:ok')} === 'pass'", what="the row to pass after the run")
        assert await browser.value("document.activeElement.dataset.run") == "api/ok"  # focus survives re-renders
        # A component's run; with a valid token the outputs are shown too.
        await browser.js("document.querySelector('button[data-run=\"api\"]').click()")
        await browser.until(
            f"{in_row('api:down', 'pre.out')} === 'HTTP 502, expected 200'",
            what="the component run's failing result with its output",
        )
        assert await browser.value("document.getElementById('details-note').hidden") is True
        # The only console line: Chrome reporting the run endpoint's 503 (the component fails), not a page error.
        errors = await browser.console_errors()
        assert all("/checks/api/run - Failed to load resource" in e and "503" in e for e in errors), errors


async def test_filters_live_in_the_url(http_target: Any, browser: Browser) -> None:
    settings = make_settings(
        defaults=FAST,
        server={"show_details": "always"},
        components={
            "api": http(http_target.url, ok=reach("/ok"), down=reach("/status/500")),
            "web": http(http_target.url, home=reach("/ok"), broken=reach("/status/503", severity="degraded")),
        },
    )
    async with serve(settings) as served:
        await served.wait(lambda: all_ran(served), what="first runs")
        await browser.open(served.url + "/status?problems=1")
        await browser.until(f"{ROWS} === 'api:down web:broken'", what="only problems")
        assert await browser.value("document.getElementById('problems').checked") is True
        field = await browser.run(browser.driver.find_element, By.ID, "q")
        await browser.run(field.send_keys, "web")
        await browser.until(f"{ROWS} === 'web:broken'", what="filtered by name")
        assert (
            await browser.until(
                "location.search === '?problems=1&q=web' && location.search", what="the filter in the URL"
            )
            == "?problems=1&q=web"
        )
        # A shared link opens with the same filter.
        await browser.open(served.url + "/status?q=api")
        await browser.until(f"{ROWS} === 'api:down api:ok'", what="the link's filter")
        assert await browser.value("document.getElementById('q').value") == "api"
        assert await browser.value(text("#shown")) == "Showing 2 of 4 checks"


async def test_a_link_to_one_check_scrolls_to_its_row(http_target: Any, browser: Browser) -> None:
    """Alerts link to `/status#chk-<id>`; the rows are drawn after the page loads, so the page itself scrolls to the
    linked row once it exists (far below the fold here) and marks it."""
    settings = make_settings(
        defaults=FAST,
        server={"show_details": "always"},
        components={"api": http(http_target.url, **{f"c{k:02d}": reach("/ok") for k in range(60)})},
    )
    row = "document.getElementById('chk-api:c55')"
    async with serve(settings) as served:
        await served.wait(lambda: all_ran(served), what="first runs")
        await browser.open(served.url + "/status#chk-api:c55")
        await browser.until(f"{row} && {row}.classList.contains('target')", what="the linked row marked")
        await browser.until(
            f"window.scrollY > 0 && {row}.getBoundingClientRect().top >= 0"
            f" && {row}.getBoundingClientRect().bottom <= window.innerHeight",
            what="the linked row in view",
        )
        assert await browser.value("document.querySelectorAll('tbody.check.target').length") == 1
        # Following another check's link moves the mark.
        await browser.value("location.hash = '#chk-api:c10'")
        await browser.until(
            "document.getElementById('chk-api:c10').classList.contains('target')"
            " && document.querySelectorAll('tbody.check.target').length === 1",
            what="the mark moved",
        )


async def test_page_shows_vigil_unreachable_and_recovers(
    http_target: Any, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = conftest.free_port()
    monkeypatch.setattr(conftest, "free_port", lambda: port)  # the restarted Vigil comes back on the same port
    settings = make_settings(defaults=FAST, components={"api": http(http_target.url, ok=reach("/ok"))})
    conn = "document.getElementById('conn').dataset.conn"
    async with serve(settings) as served:
        url = served.url
        await browser.open(url + "/")
        await browser.until(f"{conn} === 'live'", what="live")
    await browser.until(f"{conn} === 'unreachable'", timeout=15, what="unreachable shown")
    assert "Vigil unreachable" in await browser.value(text("#conn-text"))
    assert await browser.value("document.body.dataset.conn") == "unreachable"
    assert await browser.value("document.querySelectorAll('tbody.check').length") == 1  # the last data stays
    async with serve(settings) as served:
        assert served.url == url
        await browser.until(f"{conn} === 'live'", timeout=15, what="recovery")
        assert await browser.value(text("#conn-text")) == "Live"
        await browser.open("about:blank")  # no poll in flight while the server stops


async def test_a_thousand_checks_render_without_stalling(http_target: Any, browser: Browser, tmp_path: Path) -> None:
    components = {
        f"svc{c:02d}": http(http_target.url, **{f"check{k:03d}": reach("/ok") for k in range(100)}) for c in range(10)
    }
    settings = make_settings(
        defaults={"interval": "1h", "timeout": "2s", "initial_delay": "1h", "jitter": 0},  # results come from the test
        server={"show_details": "always"},
        components=components,
    )
    rows = "document.querySelectorAll('tbody.check').length"
    async with serve(settings) as served:
        record_day(served, failing_every=7)
        await browser.open(served.url + "/")
        await browser.until(f"{rows} === 1000", timeout=60, what="1,000 rows")
        renders = await browser.value("performance.getEntriesByName('vigil-render').map(e => e.duration)")
        # Filtering re-renders from the data in hand.
        await browser.run(browser.driver.find_element(By.ID, "problems").click)
        await browser.until(f"{rows} === 143", what="only problems")
        filtered = await browser.value("performance.getEntriesByName('vigil-render-checks').map(e => e.duration)")
        # Back to all 1,000 rows, timed until the next frame is drawn (style, layout and paint included).
        frame = await browser.run(
            browser.driver.execute_async_script,
            "const done = arguments[0], box = document.getElementById('problems'), t0 = performance.now();"
            " box.click(); requestAnimationFrame(() => setTimeout(() => done([performance.now() - t0,"
            " document.querySelectorAll('tbody.check').length])));",
        )
        # New results for 100 checks: only their rows are replaced, timed until the next frame.
        for state in list(served.store.states.values())[::10]:
            served.store.record(
                CheckResult(state.component, state.check, "http", Status.WARN, "slow", (), time.time(), 0.2),
                asyncio.get_running_loop().time(),
            )
        version = served.store.version
        update = await browser.until(
            f"document.body.dataset.version === '{version}' && performance.getEntriesByName('vigil-render').pop().duration",
            what="the update rendered",
        )
        assert await browser.value("document.querySelectorAll('tbody.check[data-state=warn]').length") == 100
        # The server's side: a document over 1,000 checks with a day of history, built once, then shared.
        served.store.version += 1  # as a new result would
        started = time.perf_counter()
        status, body, _ = await served.get("/status.json")
        build = time.perf_counter() - started
        started = time.perf_counter()
        await served.get("/status.json")
        shared = time.perf_counter() - started
        print(
            f"\n1,000 checks: first render {renders[0]:.0f} ms, {filtered[-1]:.0f} ms to 143 rows, "
            f"{frame[0]:.0f} ms to a drawn frame of 1,000 rows again, {update:.0f} ms for 100 changed rows; "
            f"JSON {len(body) / 1e3:.0f} kB, built in {build * 1000:.0f} ms (history memo warm), "
            f"then shared in {shared * 1000:.0f} ms"
        )
        # Each render fits in the page's own poll period (times the suite's slack for a starved machine), so the page
        # keeps up with its data; a render that grew with the square of the rows would not. The figures themselves
        # are printed above (about 10x lower than the period on an idle machine).
        budget = within(POLL) * 1000
        assert renders[0] < budget and filtered[-1] < budget and frame == [frame[0], 1000] and frame[0] < budget, (
            renders,
            frame,
        )
        assert update < budget, update
        await browser.screenshot(tmp_path / "status-1000.png")
        assert await browser.console_errors() == []
        await browser.open("about:blank")


async def test_screenshots_phone_width_dark_mode_and_contrast(
    redis_factory: Any, http_target: Any, browser: Browser, tmp_path: Path
) -> None:
    redis = redis_factory()
    async with serve(mixed(redis.url, http_target.url, auth=AUTH)) as served:
        await served.wait(lambda: all_ran(served), what="first runs")
        seed_history(served)  # a day of history, so the bars show what they are for
        await browser.open(served.url + "/")
        await browser.until(
            "document.querySelectorAll('.spark').length >= 5 && document.querySelectorAll('.bar rect.bf').length >= 3",
            what="sparklines and seeded bars",
        )
        # Landmarks, labelled controls, real buttons.
        a11y = await browser.value(
            "{main: document.querySelectorAll('main').length, header: document.querySelectorAll('body > header').length,"
            " nav: document.querySelectorAll('nav').length, search: document.querySelectorAll('[role=search]').length,"
            " unlabelled: [...document.querySelectorAll('input')].filter(i => !i.labels.length).map(i => i.id),"
            " bars: [...document.querySelectorAll('svg.bar')].every(s => s.getAttribute('aria-label')),"
            " lang: document.documentElement.lang}"
        )
        assert a11y == {"main": 1, "header": 1, "nav": 1, "search": 1, "unlabelled": [], "bars": True, "lang": "en"}
        light = await browser.js(CONTRAST)
        assert min(light.values()) >= 4.5, light
        await browser.screenshot(artifact(tmp_path, "status-page.png"))
        # Phone width: no sideways scrolling.
        await browser.cdp(
            "Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
        )
        await browser.until("window.innerWidth === 390", what="phone width")
        assert await browser.value("document.documentElement.scrollWidth") <= 390
        await browser.screenshot(artifact(tmp_path, "status-page-phone.png"), full_page=True)
        await browser.cdp("Emulation.clearDeviceMetricsOverride", {})
        # Dark mode follows prefers-color-scheme, with the same contrast.
        await browser.cdp(
            "Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]}
        )
        assert await browser.value("getComputedStyle(document.body).backgroundColor") == "rgb(13, 17, 23)"
        dark = await browser.js(CONTRAST)
        assert min(dark.values()) >= 4.5, dark
        await browser.screenshot(tmp_path / "status-page-dark.png")
        assert await browser.console_errors() == []
        await browser.open("about:blank")


async def test_keyboard_reaches_every_control(http_target: Any, browser: Browser) -> None:
    settings = make_settings(
        defaults=FAST,
        server={"show_details": "always"},
        auth=AUTH,
        components={"api": http(http_target.url, ok=reach("/ok"), down=reach("/status/500"))},
    )
    async with serve(settings) as served:
        await served.wait(lambda: all_ran(served), what="first runs")
        await browser.open(served.url + "/")
        await browser.until("document.querySelectorAll('button[data-run]').length === 3", what="run buttons")
        reached = []
        for _ in range(25):
            # A key press as the keyboard makes it, to whatever has the focus (an element's send_keys would first
            # require that element to be interactable, which the page's redraw between two presses may change).
            await browser.run(lambda: ActionChains(browser.driver).send_keys(Keys.TAB).perform())
            reached.append(
                await browser.value(
                    "document.activeElement.dataset.run || document.activeElement.id ||"
                    " document.activeElement.textContent"
                )
            )
        for control in ("q", "problems", "token", "api", "api/ok", "api/down"):
            assert control in reached, (control, reached)
        await browser.open("about:blank")


# Contrast ratio (WCAG) of text against the nearest opaque background, for the page's kinds of text.
CONTRAST = """
const lum = (c) => { const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(v => { v = v / 255;
  return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
const bg = (el) => { for (; el; el = el.parentElement) { const c = getComputedStyle(el).backgroundColor;
  if (!c.startsWith('rgba') || !c.endsWith(', 0)')) return c; } return 'rgb(255, 255, 255)'; };
const ratio = (el) => { const a = lum(getComputedStyle(el).color), b = lum(bg(el));
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05); };
const worst = {};
for (const sel of ['.badge.s-pass', '.badge.s-warn', '.badge.s-fail', '.badge.s-pending', 'pre.out.s-fail',
                   'pre.out.s-warn', '.muted', '.tag', 'h2', 'button', '#verdict', '.reason', 'a', 'thead th', '.avail']) {
  const els = document.querySelectorAll(sel);
  if (els.length) worst[sel] = Math.min(...[...els].map(ratio));
}
return worst;
"""


# -- shaping the store (the test stands in for the scheduler) ----------------------------------------------


def record_day(served: Any, failing_every: int) -> None:
    """For every check: a run each half hour over the last day, then a last one now (every `failing_every`th
    check has failed for its last three runs and had a failing hour before); the store sees them as the scheduler would have written them."""
    now = time.time()
    mono = asyncio.get_running_loop().time()
    for i, state in enumerate(served.store.states.values()):
        failing = i % failing_every == 0
        for step in range(48, -1, -1):
            at = now - step * 1800 - 1
            status = Status.FAIL if failing and step in (0, 1, 2, 10, 11) else Status.PASS
            output = "HTTP 500, expected 200" if status is Status.FAIL else "HTTP 200 in 2.0 ms"
            served.store.record(
                CheckResult(state.component, state.check, "http", status, output, (), at, 0.002 + (step % 5) / 1000),
                mono,
            )


def seed_history(served: Any) -> None:
    """A day of past runs in each check's history (a run a minute; incidents on the failing and warning checks)."""
    now = time.time()
    for state in served.store.states.values():
        for minute in range(24 * 60, 1, -1):
            at = now - minute * SLOT
            status = Status.PASS
            if state.check in ("down", "teapot") and (minute < 400 or 900 < minute < 960):
                status = Status.FAIL
            elif state.check == "slowish" and minute % 170 == 0:
                status = Status.WARN
            elif state.check == "connectivity" and 610 < minute < 625:
                status = Status.FAIL
            state.history.add(at, status)
