"""The outermost ASGI callable: plain kubelet probes answered before any routing, HEAD served as GET.

Everything else goes to FastAPI's stack (error middleware, routing, dependencies) unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from starlette.datastructures import State
from starlette.types import Message, Receive, Scope, Send

from app.api.probes import live, ready, started
from app.engine.store import Store

_PROBES: dict[str, Callable[[Store], tuple[int, bytes]]] = {
    "/livez": live,
    "/readyz": ready,
    "/ready": ready,
    "/startupz": started,
}
_HEADERS = ((b"content-type", b"text/plain; charset=utf-8"), (b"cache-control", b"no-store"))


def _headers(body: bytes) -> list[tuple[bytes, bytes]]:
    return [*_HEADERS, (b"content-length", b"%d" % len(body))]


_FIXED = {body: _headers(body) for body in (b"ok\n", b"not ready\n", b"shutting down\n", b"scheduler loop stalled\n")}


class Front:
    """The FastAPI app behind the probe fast path; what create_app returns and uvicorn serves.

    A plain GET or HEAD of /livez, /readyz, /ready or /startupz (no query string) is answered here from the
    engine's flags: no middleware, routing or allocation beyond the reply, so a probe costs about what an empty
    ASGI app does. Their routes (app.api.probes) serve the verbose/exclude/per-part forms and the OpenAPI entries.

    HEAD (RFC 9110 §9.3.2) is every GET route's answer with its headers and no body: the app sees a GET.
    """

    def __init__(self, app: FastAPI, store: Store) -> None:
        self.app = app
        self.store = store
        self.state: State = app.state  # the app's own: its services, for the CLI and tests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method = scope["method"]
            if method == "GET" or method == "HEAD":
                if not scope["query_string"]:
                    handler = _PROBES.get(scope["path"])
                    if handler is not None:
                        status, body = handler(self.store)
                        headers = _FIXED.get(body) or _headers(body)
                        await send({"type": "http.response.start", "status": status, "headers": headers})
                        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})
                        return
                if method == "HEAD":
                    scope = {**scope, "method": "GET"}
                    send = _headers_only(send)
        await self.app(scope, receive, send)


def _headers_only(send: Send) -> Send:
    """`send` with every body chunk emptied (the GET's Content-Length stays, as RFC 9110 allows for HEAD)."""

    async def send_headers(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {"type": "http.response.body", "body": b"", "more_body": message.get("more_body", False)}
        await send(message)

    return send_headers
