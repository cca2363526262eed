"""The `tls` check of an https:// component: one handshake of Vigil's own with the url's host and port, judged as
the `tcp` type's `tls` check judges it (app.checks.tcp.tls.inspect): chain, earliest expiry, protocol."""

from __future__ import annotations

from urllib.parse import urlsplit

from app.checks.base import NoMemo
from app.checks.http.calls import HttpContext
from app.checks.http.production_config import HttpTls
from app.checks.tcp.tls import inspect
from app.clients.tcp import Endpoint
from app.model import Outcome


async def run(ctx: HttpContext[HttpTls, NoMemo]) -> Outcome:
    options: HttpTls = ctx.options
    url = urlsplit(ctx.component.url)
    host = url.hostname or ""  # the config requires an https:// url with a host
    return await inspect(
        ctx.client.resolver,
        ctx.client.tls,
        Endpoint(host, url.port or 443),
        host,
        options,
        connect_timeout=ctx.component.connect_timeout,
        handshake_timeout=options.handshake_timeout,
        deadline=ctx.deadline,
    )
