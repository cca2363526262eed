"""The aiohttp session an `http` component's checks share (requests and WebSocket upgrades), every wait bounded.

aiohttp's defaults follow 10 redirects and wait 300 s: here each request passes `allow_redirects` and its own
timeouts, and an upgrade that answers with a redirect is refused (ws_connect has no `allow_redirects`).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from types import SimpleNamespace

import aiohttp

from app.clients.http_errors import UpgradeRedirected
from app.clients.resolver import SharedResolver
from app.clients.tcp import TlsContexts

# Only a fallback: every call passes its own timeout, and WebSocket upgrades run under the check's own bound.
_SESSION_TIMEOUT = aiohttp.ClientTimeout(total=30, connect=5)


@dataclass(frozen=True, slots=True)
class HttpSettings:
    verify_tls: bool
    max_connections: int
    tls_ca_file: str | None = None


async def _refuse_upgrade_redirect(
    session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestRedirectParams
) -> None:
    if params.headers.get("Upgrade", "").lower() == "websocket":
        params.response.close()
        raise UpgradeRedirected(params.response.status, params.response.headers.get("Location", ""))


class HttpClient:
    def __init__(self, settings: HttpSettings) -> None:
        self.settings = settings
        # Lookups on a pool of this client's own, shared per name: a hung resolver stalls nothing else. The `tls`
        # kind's own handshakes resolve through it too.
        self.resolver = SharedResolver()
        self.tls = TlsContexts(settings.tls_ca_file)  # for handshakes outside the session (the `tls` kind)
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        # Built on first use so it binds to the running loop.
        if self._session is None:
            ssl_context: ssl.SSLContext | bool = True
            if not self.settings.verify_tls:
                ssl_context = False
            elif self.settings.tls_ca_file is not None:
                ssl_context = ssl.create_default_context(cafile=self.settings.tls_ca_file)
            connector = aiohttp.TCPConnector(
                limit=self.settings.max_connections, ssl=ssl_context, force_close=False, resolver=self.resolver
            )
            redirects = aiohttp.TraceConfig()
            redirects.on_request_redirect.append(_refuse_upgrade_redirect)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=_SESSION_TIMEOUT,
                auto_decompress=True,
                trust_env=False,
                trace_configs=[redirects],
            )
        return self._session

    @staticmethod
    def timeout(connect: float, total: float) -> aiohttp.ClientTimeout:
        # No sock_read: it would start after `total` and never end sooner, yet cost a timer moved at every read.
        return aiohttp.ClientTimeout(total=total, connect=connect, sock_connect=connect, sock_read=None)

    @staticmethod
    def ws_timeout(close: float) -> aiohttp.ClientWSTimeout:
        """Receives are bounded by the caller (each wait has its own deadline); closing waits `close` at most."""
        return aiohttp.ClientWSTimeout(ws_receive=None, ws_close=close)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        await self.resolver.close()  # the connector does not close a resolver it was given
