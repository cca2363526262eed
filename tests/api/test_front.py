"""The front of the app: HEAD on every GET route (same status and headers, no body), and the probe fast path
answering exactly what the routed forms answer."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import all_ran, http, make_settings, reach, serve

FAST = {"interval": "300ms", "timeout": "250ms", "failure_threshold": 1, "jitter": 0}
GET_PATHS = (
    "/",
    "/status",
    "/status.json",
    "/livez",
    "/startupz",
    "/readyz",
    "/ready",
    "/readyz?verbose",
    "/readyz/api",
    "/readyz/api/ok",
    "/health",
    "/health/api",
    "/health/api/ok",
    "/metrics",
    "/docs",
    "/redoc",
    "/openapi.json",
    "/nowhere",
)
VARYING = {
    "date",
    "content-length",
    "etag",
    "x-vigil-time",
}  # per response, or per body of a document that moves between runs


async def exchange(port: int, method: str, path: str) -> tuple[bytes, dict[str, str], bytes]:
    """Status line, headers and every byte after them, read to the close (HTTP/1.1 on a raw socket)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"{method} {path} HTTP/1.1\r\nHost: vigil\r\nConnection: close\r\n\r\n".encode())
    reply = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    await writer.wait_closed()
    head, _, rest = reply.partition(b"\r\n\r\n")
    status, *fields = head.split(b"\r\n")
    headers = {}
    for field in fields:
        name, _, value = field.decode().partition(":")
        headers[name.lower()] = value.strip()
    return status, headers, rest


async def test_head_answers_every_get_route_with_its_headers_and_no_body(http_target: Any) -> None:
    settings = make_settings(defaults=FAST, components={"api": http(http_target.url, ok=reach("/ok"))})
    async with serve(settings) as served:
        await served.wait(lambda: all_ran(served), what="first runs")
        port = int(served.url.rsplit(":", 1)[1])
        for path in GET_PATHS:
            get_status, get_headers, body = await exchange(port, "GET", path)
            head_status, head_headers, rest = await exchange(port, "HEAD", path)
            assert head_status == get_status, path
            assert rest == b"", path
            assert {k: v for k, v in head_headers.items() if k not in VARYING} == {
                k: v for k, v in get_headers.items() if k not in VARYING
            }, path
            assert int(head_headers["content-length"]) > 0, path
            if path in ("/livez", "/readyz", "/docs", "/openapi.json", "/nowhere"):  # bodies that stay put
                assert int(head_headers["content-length"]) == len(body), path
        # A route without GET still refuses HEAD, as it refuses GET.
        status, headers, _ = await exchange(port, "HEAD", "/checks/run")
        assert status.startswith(b"HTTP/1.1 405 ")
        assert headers["allow"] == "POST"


async def test_the_fast_path_and_the_routes_agree(http_target: Any) -> None:
    settings = make_settings(
        defaults=FAST,
        components={
            "api": http(
                http_target.url, ok=reach("/ok"), broken=reach("/status/500", severity="degraded", initial_delay="1s")
            )
        },
    )
    async with serve(settings) as served:
        status, body, _ = await served.get("/startupz")
        assert status == 503 and body.startswith("starting: ")
        await served.wait(lambda: all_ran(served), what="first runs")
        for path in ("/livez", "/readyz", "/ready", "/startupz"):
            fast = await served.get(path)
            routed = await served.get(path + "?")  # an empty query string still takes the route
            routed_with_query = await served.get(path + "?x=1")
            assert fast[:2] == (200, "ok\n"), path
            assert routed_with_query[:2] == fast[:2], path
            assert routed[:2] == fast[:2], path
            assert fast[2]["content-type"] == routed_with_query[2]["content-type"] == "text/plain; charset=utf-8"
        served.store.begin_shutdown()
        assert (await served.get("/readyz"))[:2] == (503, "shutting down\n")
        assert (await served.get("/readyz?x=1"))[:2] == (503, "shutting down\n")
