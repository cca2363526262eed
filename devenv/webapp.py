"""The demo web API the `http` checks probe: hand-written CORS, a client-credentials token endpoint, JWT-protected
routes and a WebSocket, well configured or broken in exactly one way (one WebAppOptions field per fault).

Tests serve it under uvicorn on loopback with `serve(...)`; `python -m devenv.webapp --port P` runs the demo.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import socket
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from jose import jwt  # type: ignore[import-untyped]
from jose.exceptions import JOSEError  # type: ignore[import-untyped]
from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect


@dataclass(frozen=True)
class WebAppOptions:
    """The well-configured API by default; each fault below breaks exactly one thing."""

    signing_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))  # HMAC secret, or PEM private key
    verification_key: str | None = None  # PEM public key for RS*/ES*/PS* (HMAC: the signing key)
    algorithm: str = "HS256"
    audience: str = "demo-api"
    issuer: str = "https://demo-api.local"
    client_id: str = "vigil-probe"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    token_lifetime: int = 600
    allowed_origins: tuple[str, ...] = ("https://app.example",)
    allow_methods: tuple[str, ...] = ("GET", "POST", "PUT", "DELETE")  # a narrower tuple: a method not allowed
    allow_headers: tuple[str, ...] = ("Authorization", "Content-Type")  # a narrower tuple: a header not allowed
    max_age: int = 600
    # Faults, one flag each.
    cors_wildcard_with_credentials: bool = False  # Access-Control-Allow-Origin: * and Allow-Credentials: true
    cors_echo_any_origin: bool = False  # every Origin is echoed back
    cors_no_vary: bool = False  # the origin is echoed without Vary: Origin
    accept_expired: bool = False
    accept_alg_none: bool = False
    accept_any_audience: bool = False
    token_endpoint_down: bool = False  # 503
    token_endpoint_hangs: bool = False  # never answers
    ws_accept_anonymous: bool = False  # a WebSocket client without a token is served
    ws_refuse_valid: bool = False  # every upgrade is refused, valid token or not
    ws_never_upgrade: bool = False  # the upgrade request is never answered
    ws_never_reply: bool = False  # upgraded, then silent
    ws_refuse_after_upgrade: bool = False  # (not a fault) refuse anonymous clients with a 1008 close, not HTTP 403


class WebApp:
    """The ASGI app for one WebAppOptions; `seen_tokens` lists every token a client presented (for leak tests)."""

    def __init__(self, options: WebAppOptions) -> None:
        self.options = options
        self.seen_tokens: deque[str] = deque(maxlen=10_000)
        self.token_requests = 0
        self._stopping = asyncio.Event()
        routes = [
            Route("/health", self.health),
            Route("/auth/token", self.token, methods=["POST"]),
            Route("/api/me", self.me, methods=["GET", "PUT", "DELETE"]),
            WebSocketRoute("/ws", self.socket),
        ]
        self.asgi: ASGIApp = Cors(Starlette(routes=routes), options)

    def stop(self) -> None:
        """Releases every handler that was told to hang, so the server can shut down."""
        self._stopping.set()

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def token(self, request: Request) -> Response:
        o = self.options
        self.token_requests += 1
        if o.token_endpoint_hangs:
            await self._stopping.wait()
        if o.token_endpoint_down or o.token_endpoint_hangs:
            return JSONResponse({"error": "temporarily_unavailable"}, 503)
        body = (await request.body()).decode("utf-8", "replace")
        try:
            fields = json.loads(body) if request.headers.get("content-type", "").startswith("application/json") else {}
            fields = fields or dict(parse_qsl(body))
        except ValueError:
            return JSONResponse({"error": "invalid_request"}, 400)
        if fields.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        secret = str(fields.get("client_secret", ""))
        if fields.get("client_id") != o.client_id or not secrets.compare_digest(secret, o.client_secret):
            return JSONResponse({"error": "invalid_client"}, 401)
        now = int(time.time())
        claims = {"sub": o.client_id, "aud": o.audience, "iss": o.issuer, "iat": now, "exp": now + o.token_lifetime}
        token = jwt.encode(claims, o.signing_key, algorithm=o.algorithm)
        return JSONResponse({"access_token": token, "token_type": "Bearer", "expires_in": o.token_lifetime})

    async def me(self, request: Request) -> Response:
        claims = self.verify(bearer(request.headers))
        if claims is None:
            return JSONResponse({"error": "unauthorized"}, 401, headers={"WWW-Authenticate": 'Bearer realm="demo"'})
        return JSONResponse({"sub": claims.get("sub")})

    def verify(self, token: str | None) -> dict[str, Any] | None:
        """The token's claims when this app accepts it (faults included), else None."""
        o = self.options
        if not token:
            return None
        self.seen_tokens.append(token)
        try:
            if str(jwt.get_unverified_header(token).get("alg", "")).lower() == "none":
                return dict(jwt.get_unverified_claims(token)) if o.accept_alg_none else None
            return dict(
                jwt.decode(
                    token,
                    o.verification_key or o.signing_key,
                    algorithms=[o.algorithm],
                    audience=o.audience,
                    issuer=o.issuer,
                    # python-jose turns verify_X on whenever require_X is set: a fault must clear both.
                    options={
                        "verify_exp": not o.accept_expired,
                        "verify_aud": not o.accept_any_audience,
                        "require_exp": not o.accept_expired,
                        "require_aud": not o.accept_any_audience,
                        "require_iss": True,
                    },
                )
            )
        except (JOSEError, ValueError, TypeError):
            return None

    async def socket(self, websocket: WebSocket) -> None:
        o = self.options
        if o.ws_never_upgrade:
            await self._stopping.wait()
            await websocket.close(1001)
            return
        protocols = list(websocket.scope.get("subprotocols", []))
        token = websocket.query_params.get("token") or bearer(websocket.headers)
        if "bearer" in protocols and protocols.index("bearer") + 1 < len(protocols):
            token = protocols[protocols.index("bearer") + 1]
        origin = websocket.headers.get("origin")
        if origin is not None and not (o.cors_echo_any_origin or origin in o.allowed_origins):
            await websocket.close(1008)  # before the upgrade: HTTP 403
            return
        if token is None and not o.ws_accept_anonymous:
            if o.ws_refuse_after_upgrade:
                await websocket.accept()
            await websocket.close(1008)
            return
        if token is not None and (o.ws_refuse_valid or self.verify(token) is None):
            await websocket.close(1008)
            return
        await websocket.accept(subprotocol="bearer" if "bearer" in protocols else None)
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                text = await websocket.receive_text()
                if not o.ws_never_reply:
                    await websocket.send_text(reply_to(text))


def bearer(headers: Headers) -> str | None:
    scheme, _, credential = headers.get("authorization", "").partition(" ")
    return (credential.strip() or None) if scheme.lower() == "bearer" else None


def reply_to(text: str) -> str:
    with contextlib.suppress(ValueError):
        message = json.loads(text)
        if isinstance(message, dict) and message.get("type") == "ping":
            return json.dumps({"type": "pong", "time": time.time()})
    return text


class Cors:
    """Hand-written CORS, so each way of getting it wrong is one flag (Starlette's CORSMiddleware does it right)."""

    def __init__(self, app: ASGIApp, options: WebAppOptions) -> None:
        self.app = app
        self.options = options

    def allowed(self, origin: str) -> bool:
        return self.options.cors_echo_any_origin or origin in self.options.allowed_origins

    def origin_headers(self, origin: str) -> dict[str, str]:
        o = self.options
        if o.cors_wildcard_with_credentials:
            return {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Credentials": "true"}
        if not self.allowed(origin):
            return {}
        return {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true"}

    def vary(self, headers: MutableHeaders) -> None:
        if not self.options.cors_no_vary:
            headers.add_vary_header("Origin")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = Headers(scope=scope).get("origin") if scope["type"] == "http" else None
        if origin is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and "access-control-request-method" in Headers(scope=scope):
            await self.preflight(origin)(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.update(self.origin_headers(origin))
                self.vary(headers)
            await send(message)

        await self.app(scope, receive, send_with_cors)

    def preflight(self, origin: str) -> Response:
        o = self.options
        headers = self.origin_headers(origin)
        if not headers:
            response = Response("origin not allowed", 403)
        else:
            headers["Access-Control-Allow-Methods"] = ", ".join(o.allow_methods)
            headers["Access-Control-Allow-Headers"] = ", ".join(o.allow_headers)
            headers["Access-Control-Max-Age"] = str(o.max_age)
            response = Response(status_code=204, headers=headers)
        self.vary(response.headers)
        return response


@dataclass(frozen=True)
class Served:
    url: str  # http(s)://127.0.0.1:PORT
    app: WebApp


@contextlib.asynccontextmanager
async def serve(
    options: WebAppOptions, port: int = 0, *, certfile: str | None = None, keyfile: str | None = None
) -> AsyncIterator[Served]:
    """The app under uvicorn on 127.0.0.1 in the running loop. The socket listens before this yields, so clients
    can connect at once (they queue until uvicorn accepts); every hanging handler is released on exit."""
    webapp = WebApp(options)
    sock = listen(port)
    config = uvicorn.Config(
        webapp.asgi,
        log_config=None,
        access_log=False,
        lifespan="off",
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
        timeout_graceful_shutdown=5,
        ws_ping_interval=None,
    )
    server = uvicorn.Server(config)
    task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    scheme = "https" if certfile else "http"
    try:
        yield Served(f"{scheme}://127.0.0.1:{sock.getsockname()[1]}", webapp)
    finally:
        webapp.stop()
        server.should_exit = True
        await asyncio.wait_for(task, 15)
        sock.close()


def listen(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    return sock


def _read(path: str | None) -> str | None:
    return Path(path).read_text().strip() if path else None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devenv.webapp", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0: any free port (printed as DEMO_API_PORT=N)")
    parser.add_argument("--signing-key-file", help="HMAC secret for the tokens (default: a random one)")
    parser.add_argument("--client-secret-file", help="the client secret of --client-id (default: a random one)")
    parser.add_argument("--client-id", default=WebAppOptions.client_id)
    parser.add_argument("--audience", default=WebAppOptions.audience)
    parser.add_argument("--issuer", default=WebAppOptions.issuer)
    parser.add_argument("--allowed-origin", action="append", help="repeatable (default: https://app.example)")
    args = parser.parse_args(argv)
    settings: dict[str, Any] = {"client_id": args.client_id, "audience": args.audience, "issuer": args.issuer}
    if key := _read(args.signing_key_file):
        settings["signing_key"] = key
    if secret := _read(args.client_secret_file):
        settings["client_secret"] = secret
    if args.allowed_origin:
        settings["allowed_origins"] = tuple(args.allowed_origin)
    webapp = WebApp(WebAppOptions(**settings))
    sock = listen(args.port)
    print(f"DEMO_API_PORT={sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(webapp.asgi, log_level="warning", access_log=False, lifespan="off", ws_ping_interval=None)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(uvicorn.Server(config).serve(sockets=[sock]))


if __name__ == "__main__":
    main()
