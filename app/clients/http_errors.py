"""aiohttp's errors as this client's sentences, one per cause, worded once for every `http` kind.

A target that cannot be reached reads as every type's does (`cannot reach the HTTP server at <address>: <cause>`,
or the DNS lookup's own sentence); a wait that ran out reads `no answer within <bound>`, whichever of aiohttp's
timers fired (its total timer raises a bare TimeoutError). No sentence quotes a URL (it may carry a token).
"""

from __future__ import annotations

import ssl

import aiohttp

from app.clients.errors import REFUSED, lookup_failed, unreachable
from app.clients.tcp import CertificateRejected, Endpoint, TcpError
from app.text import SHOWN, printable
from app.units import latency

SERVICE = "the HTTP server"


class HttpError(Exception):
    """Base of the errors this client's users raise; each one's text is a finished sentence."""


class NoAnswer(HttpError):
    """A request or a WebSocket step got no answer within its bound."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no answer within {latency(seconds)}")
        self.seconds = seconds


class UpgradeRedirected(aiohttp.ClientError):
    """A WebSocket upgrade answered with a redirect; it is not followed (the token may be in the URL)."""

    def __init__(self, status: int, location: str) -> None:
        super().__init__(f"HTTP {status} redirect")
        self.status = status
        self.location = location


def worded(exc: BaseException) -> str | None:
    """Why a request failed, without its URL; None for an error that is not the target's doing (a bug)."""
    if isinstance(exc, HttpError | TcpError):
        return str(exc)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return _connect_error(exc)
    if isinstance(exc, TimeoutError):  # aiohttp's timers: connect, socket read, and the total one's bare error
        return "no answer in time"
    if isinstance(exc, aiohttp.TooManyRedirects):
        return "too many redirects"
    if isinstance(exc, UpgradeRedirected):
        return f"answered HTTP {exc.status} (a redirect to {printable(exc.location or 'nowhere', SHOWN)}), not 101"
    if isinstance(exc, aiohttp.WSServerHandshakeError):
        return f"HTTP {exc.status}" if exc.status != 101 else f"a broken upgrade: {printable(exc.message, SHOWN)}"
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientConnectionResetError):
        return "the server closed the connection"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"{type(exc).__name__}: {exc.status}, {printable(exc.message, SHOWN)}"
    if isinstance(exc, aiohttp.ClientError):
        return f"{type(exc).__name__}: {printable(str(exc), SHOWN)}"
    return None


def _connect_error(exc: aiohttp.ClientConnectorError) -> str:
    where = Endpoint(exc.host, exc.port or 0).where
    cause = exc.os_error
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return lookup_failed(exc.host, str(cause.strerror or cause))
    if isinstance(cause, ssl.SSLCertVerificationError):
        reason = printable(str(cause.verify_message or cause.reason), SHOWN)
        return str(CertificateRejected(where, cause.verify_code, reason))
    if isinstance(cause, ssl.SSLError):
        return f"the TLS handshake with {where} failed: {printable(str(cause.reason or cause), SHOWN)}"
    if isinstance(cause, ConnectionRefusedError):
        return unreachable(SERVICE, where, REFUSED)
    return unreachable(SERVICE, where, str(cause.strerror or cause).lower())
