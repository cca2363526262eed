"""The status page: its JSON over real HTTP, and the page itself in a real headless Chromium (Debian `chromium` and
`chromium-driver`, driven by Selenium) against the real app under uvicorn, real Redis servers and HTTP targets.

Selenium blocks, and the app serves from this test's event loop, so every browser call runs in a worker thread.
Screenshots go to the test's tmp_path, or to docs/ when VIGIL_SCREENSHOTS=1 (for the README).
"""

from __future__ import annotations

import asyncio
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
from selenium.webdriver.support.ui import WebDriverWait

from app.history import SLOT
from app.model import CheckResult, Status
from tests import conftest
from tests.conftest import AUTH, all_ran, http, make_settings, make_token, reach, serve

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-default-apps", "--disable-extensions",
)
FAST = {"interval": "300ms", "timeout": "250ms", "failure_threshold": 1, "success_threshold": 1, "jitter": 0}
REDIS_TIMEOUTS = {"connect_timeout": 0.1, "socket_timeout": 0.1, "pool_timeout": 0.05}
DOCS = Path(__file__).resolve().parent.parent / "docs"
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

    async def until(self, script: str, *args: Any, timeout: float = 20.0, what: str = "condition") -> Any:
        """Wait (on the DOM, in a thread) until `script` returns something truthy; that value."""

        def wait() -> Any:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(
                lambda d: d.execute_script(script, *args), f"timed out after {timeout}s waiting for {what}"
            )

        return await self.run(wait)

    async def cdp(self, command: str, params: dict[str, Any]) -> Any:
        return await self.run(self.driver.execute_cdp_cmd, command, params)

    async def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        assert await self.run(self.driver.save_screenshot, str(path)), path

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
        pytest.fail("the status page tests need Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)")
    driver = Browser(tmp_path / "chromium-profile")
    yield driver
    driver.quit()


def artifact(tmp_path: Path, name: str) -> Path:
    return DOCS / name if os.environ.get("VIGIL_SCREENSHOTS") == "1" else tmp_path / name


ROW_STATES = "return Object.fromEntries([...document.querySelectorAll('tr.chk')].map(r => [r.id.slice(4), r.dataset.state]))"


def text_of(selector: str) -> str:
    return f"const e = document.querySelector({json.dumps(selector)}); return e ? e.textContent : null"


# -- settings ---------------------------------------------------------------------------------------------


def mixed(redis_url: str, http_url: str, **server: Any) -> Any:
    """Passing (Redis, HTTP 200), warning (slower than latency_warn) and failing (HTTP 500 critical, 418 degraded)."""
    return make_settings(
        defaults=FAST,
        server={"show_details": "always", **server},
        components={
            "cache": {"type": "redis", "url": redis_url, **REDIS_TIMEOUTS, "checks": {"connectivity": {}}},
            "api": http(http_url, ok=reach("/ok"), slowish=reach("/slow?delay=0.03", latency_warn="1ms"),
                        down=reach("/status/500"), teapot=reach("/status/418", severity="degraded")),
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
        cache = served.app.state.status_cache
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
            assert '<script src="status.js" defer></script>' in body
        for path, media in (("/status.css", "text/css"), ("/status.js", "text/javascript")):
            status, body, headers = await served.get(path)
            assert status == 200 and headers["content-type"].startswith(media)
            assert (await served.get(path, headers={"If-None-Match": headers["etag"]}))[0] == 304
        # Nothing the page is made of names another host (no CDN, no fonts, no absolute URL at all).
        for path in ("/", "/status.css", "/status.js"):
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
        want = {"cache:connectivity": "pass", "api:ok": "pass", "api:slowish": "warn", "api:down": "fail",
                "api:teapot": "fail"}
        await browser.until(f"const s = ({ROW_STATES.removeprefix('return ')}); return JSON.stringify(s) === "
                            f"JSON.stringify({json.dumps(want)}) && document.querySelectorAll('.spark').length >= 5",
                            what="every row in its state, with a sparkline")
        # Colour is never alone: each state has its text label and its own icon.
        badges = await browser.js(
            "return [...document.querySelectorAll('tr.chk')].map(r => [r.id, r.querySelector('.badge .lbl').textContent,"
            " r.querySelector('.badge use').getAttribute('href')])"
        )
        assert {b[0]: (b[1], b[2]) for b in badges} == {
            f"chk-{k}": (v.capitalize(), f"#i-{v}") for k, v in want.items()
        }
        # Outputs of non-passing checks, none for passing ones.
        outputs = await browser.js(
            "return Object.fromEntries([...document.querySelectorAll('tr.chk')].map(r => [r.id.slice(4),"
            " r.nextElementSibling && r.nextElementSibling.classList.contains('more') ? "
            "r.nextElementSibling.querySelector('pre.out').textContent : null]))"
        )
        assert outputs["api:down"] == "HTTP 500, expected 200"
        assert outputs["api:teapot"] == "HTTP 418, expected 200"
        assert outputs["api:slowish"].startswith("took ")
        assert outputs["cache:connectivity"] is None and outputs["api:ok"] is None
        severities = await browser.js(
            "return Object.fromEntries([...document.querySelectorAll('tr.chk')].map(r => [r.id.slice(4),"
            " r.querySelector('.tag').textContent]))"
        )
        assert severities["api:teapot"] == "degraded" and severities["api:down"] == "critical"
        # The top: readiness and why (the failing critical check named), counts, transitions.
        assert await browser.js(text_of("#verdict")) == "Not ready"
        reason = await browser.js(text_of("#reason"))
        assert "api:down" in reason and "api:teapot" not in reason, reason
        assert await browser.js("return [...document.querySelectorAll('.blocking a')].map(a => a.textContent)") == ["api:down"]
        counts = await browser.js(
            "return Object.fromEntries([...document.querySelectorAll('#counts li')].map(l => [l.dataset.count, l.textContent]))"
        )
        assert counts == {"pass": "2 pass", "warn": "1 warn", "fail": "2 fail", "pending": "0 pending"}
        transitions = await browser.js("return [...document.querySelectorAll('#transitions li')].map(l => l.textContent)")
        assert any("api:down" in t and "HTTP 500, expected 200" in t for t in transitions), transitions
        # Last run, availability, the 24 h bar with a tooltip per cell, the duration sparkline.
        row = await browser.js(
            "const r = document.getElementById('chk-api:down'); return {last: r.querySelector('.last').textContent,"
            " avail: r.querySelector('.avail').textContent, tip: r.querySelector('.bar rect:last-of-type title').textContent,"
            " cells: r.querySelector('.bar').viewBox.baseVal.width, spark: r.querySelectorAll('.spark polyline').length}"
        )
        assert re.fullmatch(r"just now|\d+ s ago", row["last"]), row
        assert row["avail"] == "5m 0.0% · 1h 0.0% · 24h 0.0%" or row["avail"].startswith("5m 0.0%"), row
        assert row["cells"] == 48 and row["spark"] == 1
        assert re.search(r" – now: fail \(\d+ failed, 0 warned of \d+ runs\)$", row["tip"]), row["tip"]
        assert await browser.js(text_of("#conn-text")) == "Live"
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
        components={"cache": {"type": "redis", "url": redis.url, **REDIS_TIMEOUTS, "checks": {"connectivity": {}}}},
    )
    async with serve(settings) as served:
        await browser.open(served.url + "/status")
        state = "const r = document.getElementById('chk-cache:connectivity'); return r && r.dataset.state"
        await browser.until(f"{state} === 'pass'", what="cache:connectivity passing")
        assert await browser.js(text_of("#verdict")) == "Ready"
        redis.terminate()
        stopped = time.monotonic()
        await browser.until(f"{state} === 'fail'", timeout=15, what="the page to show the stopped Redis")
        took_down = time.monotonic() - stopped
        assert await browser.js(text_of("#verdict")) == "Not ready"
        output = await browser.js("return document.querySelector('#chk-cache\\\\:connectivity + tr.more pre').textContent")
        assert "redis" in output.lower(), output
        redis.start()
        started = time.monotonic()
        await browser.until(f"{state} === 'pass'", timeout=15, what="the page to show Redis back")
        took_up = time.monotonic() - started
        assert await browser.js(text_of("#verdict")) == "Ready"
        # A poll every 2 s plus a run every 300 ms: a few seconds at most each way.
        assert took_down < 6 and took_up < 6, (took_down, took_up)
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
        state = "const r = document.getElementById('chk-api:ok'); return r && r.dataset.state"
        await browser.until(f"{state} === 'pending'", what="a pending check")
        assert await browser.js("return document.getElementById('token-form').hidden") is False
        assert "hidden until a valid token" in await browser.js(text_of("#details-note"))
        # Without a token, a run asks for one and sends nothing.
        await browser.js("document.querySelector('button[data-run=\"api/ok\"]').click()")
        await browser.until("return document.activeElement.id === 'token'", what="focus on the token field")
        assert "Paste a token first" in await browser.js(text_of("#token-state"))
        assert http_target.hits.get("/ok", 0) == 0 or served.store.states[("api", "ok")].last is None
        before = http_target.hits.get("/ok", 0)
        # Paste once: kept in sessionStorage only, and the field is emptied.
        token = make_token()
        await browser.run(browser.driver.find_element("id", "token").send_keys, token)
        await browser.js("document.querySelector('#token-form button[type=submit]').click()")
        storage = await browser.js(
            "return {session: sessionStorage.getItem('vigil.token'), local: localStorage.length, cookie: document.cookie,"
            " field: document.getElementById('token').value}"
        )
        assert storage == {"session": token, "local": 0, "cookie": "", "field": ""}
        # Run one check from the keyboard: its fresh result shows, then the row follows.
        await browser.js("document.querySelector('button[data-run=\"api/ok\"]').focus()")
        await browser.run(browser.driver.switch_to.active_element.send_keys, "\n")
        result = await browser.until(
            "const p = document.querySelector('#chk-api\\\\:ok + tr.more .run-result[data-run-result]');"
            " return p && p.textContent", what="the run's result on the page"
        )
        assert "Pass" in result and "HTTP 200 in " in result, result
        assert http_target.hits.get("/ok", 0) == before + 1
        await browser.until(f"{state} === 'pass'", what="the row to pass after the run")
        # A component's run; with a valid token the details are shown too.
        await browser.js("document.querySelector('button[data-run=\"api\"]').click()")
        await browser.until(
            "const p = document.querySelector('#chk-api\\\\:down + tr.more pre.out'); return p && p.textContent === 'HTTP 502, expected 200'",
            what="the component run's failing result with its output",
        )
        assert await browser.js("return document.getElementById('details-note').hidden") is True
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
    rows = "return [...document.querySelectorAll('tr.chk')].map(r => r.id.slice(4)).sort().join(' ')"
    async with serve(settings) as served:
        await served.wait(lambda: all_ran(served), what="first runs")
        await browser.open(served.url + "/status?problems=1")
        await browser.until(f"return {rows.removeprefix('return ')} === 'api:down web:broken'", what="only problems")
        assert await browser.js("return document.getElementById('problems').checked") is True
        await browser.run(browser.driver.find_element("id", "q").send_keys, "web")
        await browser.until(f"return {rows.removeprefix('return ')} === 'web:broken'", what="filtered by name")
        assert await browser.until("return location.search === '?problems=1&q=web' && location.search",
                                   what="the filter in the URL") == "?problems=1&q=web"
        # A shared link opens with the same filter.
        await browser.open(served.url + "/status?q=api")
        await browser.until(f"return {rows.removeprefix('return ')} === 'api:down api:ok'", what="the link's filter")
        assert await browser.js("return document.getElementById('q').value") == "api"
        assert "Showing 2 of 4 checks" == await browser.js(text_of("#shown"))


async def test_page_shows_vigil_unreachable_and_recovers(
    http_target: Any, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = conftest.free_port()
    monkeypatch.setattr(conftest, "free_port", lambda: port)  # the restarted Vigil comes back on the same port
    settings = make_settings(defaults=FAST, components={"api": http(http_target.url, ok=reach("/ok"))})
    conn = "return document.getElementById('conn').dataset.conn"
    async with serve(settings) as served:
        url = served.url
        await browser.open(url + "/")
        await browser.until(f"return {conn.removeprefix('return ')} === 'live'", what="live")
    await browser.until(f"return {conn.removeprefix('return ')} === 'unreachable'", timeout=15, what="unreachable shown")
    assert "Vigil unreachable" in await browser.js(text_of("#conn-text"))
    assert await browser.js("return document.body.dataset.conn") == "unreachable"
    assert await browser.js("return document.querySelectorAll('tr.chk').length") == 1  # the last data stays
    async with serve(settings) as served:
        assert served.url == url
        await browser.until(f"return {conn.removeprefix('return ')} === 'live'", timeout=15, what="recovery")
        await browser.until(f"return document.getElementById('conn-text').textContent === 'Live'", what="live text")


async def test_a_thousand_checks_render_without_stalling(http_target: Any, browser: Browser, tmp_path: Path) -> None:
    components = {
        f"svc{c:02d}": http(http_target.url, **{f"check{k:03d}": reach("/ok") for k in range(100)}) for c in range(10)
    }
    settings = make_settings(
        defaults={"interval": "1h", "timeout": "2s", "initial_delay": "1h", "jitter": 0},  # results come from the test
        server={"show_details": "always"},
        components=components,
    )
    async with serve(settings) as served:
        record_day(served, failing_every=7)
        await browser.open(served.url + "/")
        await browser.until("return document.querySelectorAll('tr.chk').length === 1000", timeout=60, what="1,000 rows")
        renders = await browser.js("return performance.getEntriesByName('vigil-render').map(e => e.duration)")
        assert renders and renders[0] < 1500, renders
        # Filtering re-renders from the data in hand; typing stays responsive.
        await browser.run(browser.driver.find_element("id", "problems").click)
        await browser.until("return document.querySelectorAll('tr.chk').length === 143", what="only problems")
        filtered = await browser.js("return performance.getEntriesByName('vigil-render-checks').map(e => e.duration)")
        assert filtered[-1] < 500, filtered
        # Back to all 1,000 rows, timed until the next frame is drawn (style, layout and paint included).
        frame = await browser.run(
            browser.driver.execute_async_script,
            "const done = arguments[0], box = document.getElementById('problems'), t0 = performance.now();"
            " box.click(); requestAnimationFrame(() => setTimeout(() => done([performance.now() - t0,"
            " document.querySelectorAll('tr.chk').length])));",
        )
        assert frame[1] == 1000 and frame[0] < 1500, frame
        # The server's side: a document over 1,000 checks with a day of history, built once and then shared.
        cache = served.app.state.status_cache
        served.store.version += 1  # as a new result would
        started = time.perf_counter()
        status, body, _ = await served.get("/status.json")
        build = time.perf_counter() - started
        started = time.perf_counter()
        await served.get("/status.json")
        shared = time.perf_counter() - started
        assert status == 200 and cache.builds >= 2
        print(f"\n1,000 checks: first render {renders[0]:.0f} ms, {filtered[-1]:.0f} ms for 143 after filtering, "
              f"{frame[0]:.0f} ms to a drawn frame of 1,000 again; JSON {len(body) / 1e3:.0f} kB, rebuilt in "
              f"{build * 1000:.0f} ms (history memo warm), shared in {shared * 1000:.0f} ms")
        await browser.screenshot(tmp_path / "status-1000.png")
        assert await browser.console_errors() == []


async def test_screenshots_phone_width_dark_mode_and_contrast(
    redis_factory: Any, http_target: Any, browser: Browser, tmp_path: Path
) -> None:
    redis = redis_factory()
    async with serve(mixed(redis.url, http_target.url)) as served:
        await served.wait(lambda: all_ran(served), what="first runs")
        seed_history(served)  # a day of history, so the bars show what they are for
        await browser.open(served.url + "/")
        await browser.until("return [...document.querySelectorAll('.spark')].length >= 5 && "
                            "document.querySelectorAll('.bar rect.bf').length >= 3", what="sparklines and seeded bars")
        # Landmarks, labelled controls, real buttons.
        a11y = await browser.js(
            "return {main: document.querySelectorAll('main').length, header: document.querySelectorAll('body > header').length,"
            " nav: document.querySelectorAll('nav').length, search: document.querySelectorAll('[role=search]').length,"
            " unlabelled: [...document.querySelectorAll('input')].filter(i => !i.labels.length).map(i => i.id),"
            " buttons: [...document.querySelectorAll('[data-run]')].every(b => b.tagName === 'BUTTON' && b.getAttribute('aria-label')),"
            " lang: document.documentElement.lang}"
        )
        assert a11y == {"main": 1, "header": 1, "nav": 1, "search": 1, "unlabelled": [], "buttons": True, "lang": "en"}
        light = await browser.js(CONTRAST)
        assert min(light.values()) >= 4.5, light
        await browser.screenshot(artifact(tmp_path, "status-page.png"))
        # Phone width: no sideways scrolling, every row still labelled.
        await browser.cdp("Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True})
        await browser.until("return window.innerWidth === 390", what="phone width")
        assert await browser.js("return document.documentElement.scrollWidth") <= 390
        await browser.screenshot(artifact(tmp_path, "status-page-phone.png"))
        await browser.cdp("Emulation.clearDeviceMetricsOverride", {})
        # Dark mode follows prefers-color-scheme, with the same contrast.
        await browser.cdp("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
        background = await browser.js("return getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(13, 17, 23)", background
        dark = await browser.js(CONTRAST)
        assert min(dark.values()) >= 4.5, dark
        await browser.screenshot(tmp_path / "status-page-dark.png")
        assert await browser.console_errors() == []


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
                CheckResult(state.component, state.check, "http", status, output, (), at, 0.002 + (step % 5) / 1000), mono
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
            elif state.check == "slowish" and minute % 37 == 0:
                status = Status.WARN
            elif state.check == "connectivity" and 610 < minute < 625:
                status = Status.FAIL
            state.history.add(at, status)
