"""The `http` component type: a web API and the checks a browser frontend depends on.

`reachable` (one request), `cors` (preflights), `jwt` (the authentication flow) and `websocket` (the upgrade and a
round trip) share the component's url, headers, TLS options and one aiohttp session.
"""

from __future__ import annotations

from app.checks.base import CheckKind, ComponentType
from app.checks.http import cors, jwt, reachable, websocket
from app.checks.http.client import close_client, open_client
from app.checks.http.config import HttpComponent, HttpCors, HttpJwt, HttpReachable, HttpWebSocket
from app.checks.http.credentials import TokenCache
from app.checks.http.errors import describe_error

HTTP = ComponentType(
    config=HttpComponent,
    kinds=(
        CheckKind(HttpReachable, reachable.run),
        CheckKind(HttpCors, cors.run, cors.CorsMemo),
        CheckKind(HttpJwt, jwt.run, jwt.JwtMemo),
        CheckKind(HttpWebSocket, websocket.run, TokenCache),
    ),
    open_client=open_client,
    close_client=close_client,
    describe_error=describe_error,
)

__all__ = ["HTTP"]
