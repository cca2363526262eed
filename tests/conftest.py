"""Shared fixtures: real redis-server / clickhouse-server processes, a real HTTP target, a hanging socket,
and helpers to build settings, run one check, and serve the app over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import uvicorn
import yaml
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwt

from app.config.settings import Settings
from app.engine.scheduler import Scheduler
from app.main import build_engine, create_app
from app.model import CheckId, CheckResult, Observation
from devenv.servers import ClickHouseServer, RedisServer, free_port, self_signed_certificate

JWT_SECRET = "test-hmac-secret-that-is-long-enough-0123456789"

# How much later than configured a busy machine may make anything timed: every time bound in the suite is a
# configured timeout or interval times SLACK (the suite runs on a shared 2-core box, with other suites beside it).
SLACK = 4.0
JWT_AUDIENCE = "vigil"
JWT_ISSUER = "https://issuer.test"


# -- real servers -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One shared redis-server for tests that only read or use their own keys."""
    server = RedisServer().start()
    yield server
    server.cleanup()


@pytest.fixture
def redis_factory() -> Iterator[Any]:
    """Start private redis-servers (for tests that kill, pause, reconfigure or fill them)."""
    started: list[RedisServer] = []

    def start(**kwargs: Any) -> RedisServer:
        server = RedisServer(**kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.cleanup()


@pytest.fixture(scope="session")
def clickhouse_server() -> Iterator[ClickHouseServer]:
    server = ClickHouseServer().start()
    yield server
    server.cleanup()


@pytest.fixture
def clickhouse_factory() -> Iterator[Any]:
    started: list[ClickHouseServer] = []

    def start() -> ClickHouseServer:
        server = ClickHouseServer().start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.cleanup()


class HttpTarget:
    """A small aiohttp app on loopback, in its own thread and loop, serving canned behaviours."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.port = free_port()
        self.ssl_context = ssl_context
        self.hits: dict[str, int] = {}
        self.switch = "ok"  # what /switch does: "ok", "late-headers" or "endless" (fault tests flip it)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl_context else 'http'}://127.0.0.1:{self.port}"

    def _app(self) -> web.Application:
        async def count(request: web.Request) -> None:
            self.hits[request.path] = self.hits.get(request.path, 0) + 1

        async def ok(request: web.Request) -> web.Response:
            await count(request)
            return web.json_response({"status": "ok", "version": "1.2.3", "deps": {"db": "up"}})

        async def status(request: web.Request) -> web.Response:
            await count(request)
            return web.Response(status=int(request.match_info["code"]), text="status")

        async def slow(request: web.Request) -> web.Response:
            await count(request)
            await asyncio.sleep(float(request.query.get("delay", "1")))
            return web.json_response({"status": "ok"})

        async def redirect(request: web.Request) -> web.Response:
            await count(request)
            raise web.HTTPFound("/ok")

        async def loop_redirect(request: web.Request) -> web.Response:
            await count(request)
            raise web.HTTPFound("/loop")

        async def text(request: web.Request) -> web.Response:
            await count(request)
            return web.Response(text="not json")

        async def late_headers(request: web.Request) -> web.Response:
            await count(request)
            await asyncio.sleep(30)  # the fault: headers come after 30 s (cancelled when the client leaves)
            return web.Response(text="too late")

        async def endless(request: web.Request) -> web.StreamResponse:
            await count(request)
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            await response.prepare(request)
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                for _ in range(100_000):  # the fault: a body that never ends (bounded, so the thread stops)
                    await response.write(b"[" * 4096)
                    await asyncio.sleep(0.01)
            return response

        app = web.Application()
        app.router.add_get("/ok", ok)
        app.router.add_get("/status/{code}", status)
        app.router.add_get("/slow", slow)
        app.router.add_get("/redirect", redirect)
        app.router.add_get("/loop", loop_redirect)
        app.router.add_get("/text", text)

        async def switch(request: web.Request) -> web.StreamResponse:
            handler = {"ok": ok, "late-headers": late_headers, "endless": endless}[self.switch]
            return await handler(request)

        app.router.add_get("/switch", switch)
        app.router.add_get("/late-headers", late_headers)
        app.router.add_get("/endless", endless)
        return app

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        # A handler still holding a late or endless reply is not waited for at shutdown (60 s by default).
        runner = web.AppRunner(self._app(), shutdown_timeout=0.5)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", self.port, ssl_context=self.ssl_context)
        self._loop.run_until_complete(site.start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())
        leftover = asyncio.all_tasks(self._loop)  # handlers still holding a late or endless reply
        for task in leftover:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*leftover, return_exceptions=True))
        self._loop.close()

    def start(self) -> HttpTarget:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture(scope="session")
def http_target() -> Iterator[HttpTarget]:
    target = HttpTarget().start()
    yield target
    target.stop()


@pytest.fixture(scope="session")
def https_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HttpTarget, Path]]:
    """The same app over TLS with a self-signed certificate for 127.0.0.1; yields (target, CA file)."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = self_signed_certificate(directory)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    target = HttpTarget(context).start()
    yield target, cert
    target.stop()


class HangingServer:
    """Accepts TCP connections and never answers: the hung dependency."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self.conns: list[socket.socket] = []
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop:
            with contextlib.suppress(OSError):
                conn, _ = self.sock.accept()
                self.conns.append(conn)

    def close(self) -> None:
        self._stop = True
        self._thread.join(2)
        for conn in self.conns:
            conn.close()
        self.sock.close()


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A loopback port held bound and never listened on: every connection to it is refused, and nothing else on
    the machine can take it meanwhile (unlike a fixed port such as 1)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


@pytest.fixture
def hanging_server() -> Iterator[HangingServer]:
    server = HangingServer()
    yield server
    server.close()


# -- building and running Vigil ---------------------------------------------------------------------


# Defaults for tests that watch checks change state: a run every 300 ms, one run enough to flip.
FAST = {"interval": "300ms", "timeout": "250ms", "failure_threshold": 1, "success_threshold": 1, "jitter": 0}
FAST_REDIS = {"connect_timeout": 0.2, "socket_timeout": 0.2, "pool_timeout": 0.1}  # inside a 400 ms check timeout


def make_settings(**data: Any) -> Settings:
    """Settings from a dict, as if it came from YAML (the environment still overrides)."""
    return Settings(**data)


def http(url: str, connect_timeout: float = 0.2, **checks: dict[str, Any]) -> dict[str, Any]:
    """An `http` component's config, as YAML would give it."""
    return {"type": "http", "url": url, "connect_timeout": connect_timeout, "checks": checks}


def reach(path: str, **extra: Any) -> dict[str, Any]:
    """A `reachable` check's config."""
    return {"kind": "reachable", "path": path, **extra}


def redis_component(url: str, checks: dict[str, Any] | None = None, **options: Any) -> dict[str, Any]:
    """A `redis` component's config, as YAML would give it (no checks given: its default connectivity check)."""
    return {"type": "redis", "url": url, **options, **({} if checks is None else {"checks": checks})}


def clickhouse_component(port: int, checks: dict[str, Any] | None = None, **options: Any) -> dict[str, Any]:
    """A `clickhouse` component's config on loopback, as YAML would give it."""
    return {"type": "clickhouse", "port": port, **options, **({} if checks is None else {"checks": checks})}


def tcp_component(host: str, port: int, checks: dict[str, Any] | None = None, **options: Any) -> dict[str, Any]:
    """A `tcp` component's config, as YAML would give it."""
    return {"type": "tcp", "host": host, "port": port, **options, **({} if checks is None else {"checks": checks})}


async def wait_until(predicate: Any, timeout: float = 10.0, what: str = "condition") -> float:
    """Poll `predicate` on the event loop until it holds; seconds it took, AssertionError after `timeout`."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)
    return time.monotonic() - start


def within(seconds: float) -> float:
    """The bound for something configured to take `seconds`: that figure times SLACK."""
    return seconds * SLACK


class FakeClock:
    """A monotonic clock a test advances by hand, for code that takes a `clock` callable."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def observed(result: CheckResult) -> dict[str, Any]:
    """A result's observations by name: their values."""
    return {o.name: o.value for o in result.observed}


def observations(result: CheckResult) -> dict[str, Observation]:
    """A result's observations by name (value, unit, limit)."""
    return {o.name: o for o in result.observed}


async def run_rounds(
    settings: Settings, rounds: int = 1, checks: Iterable[str] | None = None
) -> dict[str, list[CheckResult]]:
    """Each check (by name; all by default) once per round, in turn, through one scheduler (memo kept between
    runs); every result of each, by check name."""
    async with check_runner(settings) as scheduler:
        runners = {cid.check: runner for cid, runner in scheduler.runners.items()}
        results: dict[str, list[CheckResult]] = {}
        for _ in range(rounds):
            for name in runners if checks is None else checks:
                results.setdefault(name, []).append(await runners[name].run(scheduled=False))
        return results


async def run_each(settings: Settings, checks: Iterable[str] | None = None) -> dict[str, CheckResult]:
    """Each check (by name; all by default) once, in turn, through the real scheduler path; by check name."""
    return {name: runs[-1] for name, runs in (await run_rounds(settings, 1, checks)).items()}


def rsa_pair() -> tuple[str, str]:
    """A fresh 2048-bit RSA key pair as PEM text: (private, public)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private.decode(), public.decode()


def all_ran(served: Served) -> bool:
    """Every check has a result."""
    return all(s.last is not None for s in served.store.states.values())


async def run_check(settings: Settings, component: str, check: str, scheduler: Scheduler | None = None) -> CheckResult:
    """Run one check once through the real scheduler path (deadline, error mapping, store)."""
    own = scheduler is None
    if scheduler is None:
        scheduler = build_engine(settings)[1]
        scheduler.build()
    try:
        return await scheduler.runners[CheckId(component, check)].run(scheduled=False)
    finally:
        if own:
            await scheduler.stop()


@contextlib.asynccontextmanager
async def check_runner(settings: Settings) -> AsyncIterator[Scheduler]:
    """A built scheduler (clients, runners, memo kept between runs) without its loops; closed on exit."""
    scheduler = build_engine(settings)[1]
    scheduler.build()
    try:
        yield scheduler
    finally:
        await scheduler.stop()


class Served:
    def __init__(self, app: Any, url: str, session: aiohttp.ClientSession) -> None:
        self.app = app
        self.url = url
        self.session = session
        self.store = app.state.services.store
        self.scheduler = app.state.services.scheduler

    async def get(self, path: str, **kwargs: Any) -> tuple[int, str, Any]:
        async with self.session.get(self.url + path, allow_redirects=False, **kwargs) as response:
            return response.status, await response.text(), response.headers

    async def post(self, path: str, **kwargs: Any) -> tuple[int, str, Any]:
        async with self.session.post(self.url + path, allow_redirects=False, **kwargs) as response:
            return response.status, await response.text(), response.headers

    async def wait(self, predicate: Any, timeout: float = 10.0, what: str = "condition") -> None:
        await wait_until(predicate, timeout, what)


@contextlib.asynccontextmanager
async def serve(settings: Settings, load: Callable[[], Settings] | None = None) -> AsyncIterator[Served]:
    """The real app under a real uvicorn on a free loopback port, in this test's loop (`load`: what a reload reads)."""
    app = create_app(settings, load)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.get_running_loop().create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        try:
            yield Served(app, f"http://127.0.0.1:{port}", session)
        finally:
            server.should_exit = True
            await asyncio.wait_for(task, 15)


def make_token(
    *,
    secret: str = JWT_SECRET,
    algorithm: str = "HS256",
    audience: str | None = JWT_AUDIENCE,
    issuer: str | None = JWT_ISSUER,
    expires_in: float | None = 300,
    scope: str | None = "vigil:run",
    **claims: Any,
) -> str:
    payload: dict[str, Any] = dict(claims)
    payload.setdefault("sub", "operator")
    if audience is not None:
        payload["aud"] = audience
    if issuer is not None:
        payload["iss"] = issuer
    if expires_in is not None:
        payload["exp"] = int(time.time() + expires_in)
    if scope is not None:
        payload["scope"] = scope
    return str(jwt.encode(payload, secret, algorithm=algorithm))


AUTH = {"algorithms": ["HS256"], "key": JWT_SECRET, "audience": JWT_AUDIENCE, "issuer": JWT_ISSUER}


# -- a real Prometheus, a resolver that never answers -----------------------------------------------------

# Where a private resolv.conf sends name lookups that never get an answer: a loopback address of this run's own
# (a resolver needs port 53, and other suites on the same machine bind their own).
BLACK_HOLE = f"127.{random.randrange(64, 250)}.{random.randrange(1, 250)}.{random.randrange(1, 250)}"


@pytest.fixture
def silent_resolver() -> Iterator[socket.socket]:
    """A UDP socket on BLACK_HOLE:53 that reads every query and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((BLACK_HOLE, 53))
    except OSError:
        sock.close()
        raise
    sock.settimeout(0.2)
    stop = threading.Event()

    def swallow() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                sock.recvfrom(4096)

    thread = threading.Thread(target=swallow, daemon=True)
    thread.start()
    yield sock
    stop.set()
    thread.join(2)
    sock.close()


@contextlib.contextmanager
def prometheus_scraping(target: str, directory: Path, rules: Path | None = None) -> Iterator[str]:
    """Debian's Prometheus scraping `target` (host:port) every second, evaluating `rules`; yields its base URL."""
    port = free_port()
    config: dict[str, Any] = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": "vigil", "static_configs": [{"targets": [target]}]}],
    }
    if rules is not None:
        config["rule_files"] = [str(rules)]
    (directory / "prometheus.yml").write_text(yaml.safe_dump(config))
    prometheus = subprocess.Popen(
        [
            shutil.which("prometheus") or "/usr/bin/prometheus",
            f"--config.file={directory / 'prometheus.yml'}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        prometheus.terminate()
        prometheus.wait(15)


async def prometheus_query(session: aiohttp.ClientSession, base: str, expr: str) -> list[dict[str, Any]]:
    async with session.get(f"{base}/api/v1/query", params={"query": expr}) as response:
        body = await response.json()
    assert body["status"] == "success", body
    return list(body["data"]["result"])
