"""A small site the production-readiness checks probe (tls, https, header conditions, latency, resources): security
headers and HSTS as configured, a plain-http twin that redirects (or not), fast and slow endpoints, and a Prometheus
`/metrics` page whose process figures are chosen (memory, and a CPU counter growing at a chosen rate).

Served with aiohttp in the running loop on a free loopback port: `async with serve_site(SiteOptions(...)) as url`.
`python -m devenv.securesite --port P` runs the plain site for a demo.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

MiB = 1024 * 1024
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class SiteOptions:
    """The well-configured site by default; tests change one field per case."""

    hsts: str | None = "max-age=31536000; includeSubDomains"  # Strict-Transport-Security (None: not sent)
    headers: dict[str, str] = field(
        default_factory=lambda: {
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'self'",
            "X-Frame-Options": "DENY",
        }
    )
    body: str = "<!doctype html><h1>Welcome to the demo</h1>"
    redirect_to: str | None = None  # a plain-http twin: every request redirects to this base URL (the https site)
    redirect_status: int = 301
    memory_bytes: int = 100 * MiB  # process_resident_memory_bytes
    cpu_rate: float = 0.02  # cores: process_cpu_seconds_total grows by this many seconds per second
    slow_delay: float = 0.5  # seconds /slow waits (a `?delay=` query overrides it)


class Site:
    def __init__(self, options: SiteOptions) -> None:
        self.options = options
        self.started = time.monotonic()
        self.hits: dict[str, int] = {}

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._count])
        if self.options.redirect_to is not None:
            app.router.add_route("*", "/{tail:.*}", self.redirect)
            return app
        app.router.add_get("/", self.home)
        app.router.add_get("/fast", self.fast)
        app.router.add_get("/slow", self.slow)
        app.router.add_get("/metrics", self.metrics)
        return app

    @web.middleware
    async def _count(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.hits[request.path] = self.hits.get(request.path, 0) + 1
        return await handler(request)

    def _headers(self) -> dict[str, str]:
        headers = dict(self.options.headers)
        if self.options.hsts is not None:
            headers["Strict-Transport-Security"] = self.options.hsts
        return headers

    async def redirect(self, request: web.Request) -> web.Response:
        location = f"{self.options.redirect_to}{request.path_qs}"
        return web.Response(status=self.options.redirect_status, headers={"Location": location})

    async def home(self, request: web.Request) -> web.Response:
        return web.Response(text=self.options.body, content_type="text/html", headers=self._headers())

    async def fast(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"}, headers=self._headers())

    async def slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.query.get("delay", self.options.slow_delay)))
        return web.json_response({"status": "ok"}, headers=self._headers())

    async def metrics(self, request: web.Request) -> web.Response:
        cpu = 1.5 + self.options.cpu_rate * (time.monotonic() - self.started)
        text = (
            "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
            "# TYPE process_cpu_seconds_total counter\n"
            f"process_cpu_seconds_total {cpu!r}\n"
            "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
            "# TYPE process_resident_memory_bytes gauge\n"
            f"process_resident_memory_bytes {float(self.options.memory_bytes)!r}\n"
            "# HELP http_requests_total Requests served.\n"
            "# TYPE http_requests_total counter\n"
            f'http_requests_total{{path="/"}} {self.hits.get("/", 0)}\n'
        )
        return web.Response(text=text, content_type="text/plain", charset="utf-8")


@dataclass(frozen=True)
class Served:
    url: str  # http(s)://127.0.0.1:PORT (no trailing slash)
    site: Site


@contextlib.asynccontextmanager
async def serve_site(options: SiteOptions, ssl_context: ssl.SSLContext | None = None) -> AsyncIterator[Served]:
    """The site on a free loopback port in the running loop, over TLS when `ssl_context` is given."""
    site = Site(options)
    runner = web.AppRunner(site.app(), access_log=None, handle_signals=False)
    await runner.setup()
    tcp = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await tcp.start()
    port = runner.addresses[0][1]
    try:
        yield Served(f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}", site)
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devenv.securesite", description=__doc__)
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args(argv)
    web.run_app(Site(SiteOptions()).app(), host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
