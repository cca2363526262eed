"""The aiohttp session an `http` component's checks share, with every wait bounded explicitly.

aiohttp's defaults follow 10 redirects and wait 300 s; here redirects are off unless configured and every
request carries its own connect and total timeout.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import aiohttp


@dataclass(frozen=True, slots=True)
class HttpSettings:
    verify_tls: bool
    max_connections: int
    tls_ca_file: str | None = None


class HttpClient:
    def __init__(self, settings: HttpSettings) -> None:
        self.settings = settings
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
                limit=self.settings.max_connections, ssl=ssl_context, force_close=False
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=30, connect=5),  # overridden per request
                auto_decompress=True,
                trust_env=False,
            )
        return self._session

    @staticmethod
    def timeout(connect: float, total: float) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(total=total, connect=connect, sock_connect=connect, sock_read=total)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
