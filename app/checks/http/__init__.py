"""The `http` component type: a web API, the checks a browser frontend depends on, and its production readiness.

`reachable` (one request, header and body conditions), `cors` (preflights), `jwt` (the authentication flow),
`websocket` (the upgrade and a round trip), `https` (redirect and HSTS), `latency` (percentiles under a small load)
and `resources` (memory and CPU against limits) share the component's url, headers, TLS options and one aiohttp
session; `tls` makes its own handshake on the same resolver pool.
"""

from __future__ import annotations

from app.checks.base import CheckKind, ComponentType
from app.checks.http import cors, https, jwt, latency, reachable, resources, tls, websocket
from app.checks.http.component import close_client, open_client
from app.checks.http.config import HttpComponent, HttpCors, HttpJwt, HttpReachable, HttpWebSocket
from app.checks.http.credentials import TokenCache
from app.checks.http.errors import describe_error
from app.checks.http.production_config import HttpHttps, HttpLatency, HttpResources, HttpTls
from app.checks.http.resources_rules import ResourcesMemo

HTTP = ComponentType(
    config=HttpComponent,
    kinds=(
        CheckKind(HttpReachable, reachable.run),
        CheckKind(HttpCors, cors.run, cors.CorsMemo),
        CheckKind(HttpJwt, jwt.run, jwt.JwtMemo),
        CheckKind(HttpWebSocket, websocket.run, TokenCache),
        CheckKind(HttpTls, tls.run),
        CheckKind(HttpHttps, https.run),
        CheckKind(HttpLatency, latency.run),
        CheckKind(HttpResources, resources.run, ResourcesMemo),
    ),
    open_client=open_client,
    close_client=close_client,
    describe_error=describe_error,
)

__all__ = ["HTTP"]
