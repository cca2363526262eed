"""Raw TCP connections and TLS handshakes (the `tcp` type and both `tls` kinds): each phase bounded, each failure
its own error, worded once here: a DNS lookup, a refused or silent connect, a silent or refused TLS hello, a chain.

Names are resolved on the caller's SharedResolver (never the loop's default executor); TLS contexts are built once
per client and CA file, since loading a CA bundle takes tens of milliseconds of blocking work.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any

from app.clients.errors import REFUSED, connect_silent, lookup_failed, lookup_silent, unreachable
from app.clients.resolver import SharedResolver
from app.units import latency

_CLOSE_WAIT = 0.5  # seconds at most for a polite close (TLS close_notify) before the connection is dropped
_DER = 2  # _ssl.ENCODING_DER: a served certificate as DER bytes (Python < 3.13 returns _ssl.Certificate objects)
_SSL_NOISE = re.compile(r"^\[[A-Z0-9_]+: [A-Z0-9_]+\]\s*|\s*\(_ssl\.c:\d+\)$")
_PROTOCOL_REFUSED = {"TLSV1_ALERT_PROTOCOL_VERSION", "UNSUPPORTED_PROTOCOL", "NO_PROTOCOLS_AVAILABLE"}

PROTOCOLS: dict[str, ssl.TLSVersion] = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}


class TcpError(Exception):
    """A lookup, connect or handshake that failed; the message is the whole sentence a check reports."""


class NameNotResolved(TcpError):
    """The DNS lookup failed or got no answer in time."""


class ConnectRefused(TcpError):
    """Nothing listens on the port (the host answered with a reset)."""


class NoConnection(TcpError):
    """No TCP connection within the connect timeout, or the network said no (unreachable)."""


class HandshakeTimedOut(TcpError):
    """The port accepted the connection and never answered the TLS hello."""


class HandshakeFailed(TcpError):
    """The TLS handshake was refused or broken (no common protocol, not TLS at all, closed midway)."""

    def __init__(self, message: str, reason: str, *, protocol_refused: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.protocol_refused = protocol_refused


class CertificateRejected(TcpError):
    """The served chain does not verify (expired, wrong host, unknown issuer...): OpenSSL's code and words."""

    def __init__(self, where: str, code: int, message: str) -> None:
        super().__init__(f"the certificate of {where} does not verify: {message}")
        self.code = code
        self.reason = message


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int

    @property
    def where(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Handshake:
    version: str  # as OpenSSL names it: TLSv1.2, TLSv1.3
    cipher: str
    chain: tuple[bytes, ...]  # the certificates the server sent, DER, its own first
    latency: float  # seconds


@dataclass(frozen=True, slots=True)
class Probe:
    address: str  # the address connected to
    connect_latency: float  # seconds, lookup included
    handshake: Handshake | None


class TlsContexts:
    """Client TLS contexts of one CA setting (the system bundle, or `ca_file` instead of it), built on first use."""

    def __init__(self, ca_file: str | None) -> None:
        self.ca_file = ca_file
        self._verified: dict[ssl.TLSVersion, ssl.SSLContext] = {}
        self._unverified: ssl.SSLContext | None = None

    def verified(self, minimum: ssl.TLSVersion = ssl.TLSVersion.TLSv1_2) -> ssl.SSLContext:
        """Verifies the chain and the host name; offers `minimum` and newer."""
        context = self._verified.get(minimum)
        if context is None:
            try:
                context = ssl.create_default_context(cafile=self.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise TcpError(f"cannot load tls_ca_file {self.ca_file}: {_ssl_reason(exc)}") from None
            context.minimum_version = minimum
            self._verified[minimum] = context
        return context

    def unverified(self) -> ssl.SSLContext:
        """Accepts any chain: only to read what a server serves after its chain was rejected."""
        if self._unverified is None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            self._unverified = context
        return self._unverified


async def connect(
    resolver: SharedResolver, endpoint: Endpoint, limit: float, service: str | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, str]:
    """A TCP connection within `limit` seconds, lookup included: (reader, writer, address). `service` names what
    should answer there in the error sentences (Redis, ClickHouse), None for a bare port."""
    phase = "lookup"
    try:
        async with asyncio.timeout(limit):
            addresses = await _addresses(resolver, endpoint)
            phase = "connect"
            failure: tuple[str, OSError] | None = None
            for address, family in addresses:
                try:
                    reader, writer = await asyncio.open_connection(address, endpoint.port, family=family)
                except OSError as exc:
                    failure = failure or (address, exc)
                    continue
                return reader, writer, address
    except TimeoutError:
        if phase == "lookup":
            raise NameNotResolved(lookup_silent(endpoint.host, limit)) from None
        raise NoConnection(unreachable(service, endpoint.where, connect_silent(limit))) from None
    assert failure is not None  # _addresses returns at least one address
    raise _connect_error(endpoint, service, *failure)


async def resolve(resolver: SharedResolver, endpoint: Endpoint, limit: float) -> list[tuple[str, int]]:
    """The addresses of `endpoint` (address, family), looked up on `resolver` within `limit` seconds, for clients
    that connect through a library of their own; NameNotResolved when the lookup fails or gets no answer."""
    try:
        async with asyncio.timeout(limit):
            return await _addresses(resolver, endpoint)
    except TimeoutError:
        raise NameNotResolved(lookup_silent(endpoint.host, limit)) from None


async def _addresses(resolver: SharedResolver, endpoint: Endpoint) -> list[tuple[str, int]]:
    try:
        results = await resolver.resolve(endpoint.host, endpoint.port, family=socket.AF_UNSPEC)
    except OSError as exc:
        raise NameNotResolved(lookup_failed(endpoint.host, str(exc.strerror or exc))) from None
    addresses: list[tuple[str, int]] = []
    for result in results:
        if (result["host"], result["family"]) not in addresses:
            addresses.append((result["host"], result["family"]))
    return addresses


def _connect_error(endpoint: Endpoint, service: str | None, address: str, exc: OSError) -> TcpError:
    where = endpoint.where if address == endpoint.host else f"{endpoint.where} ({address})"
    if isinstance(exc, ConnectionRefusedError):
        return ConnectRefused(unreachable(service, where, REFUSED))
    return NoConnection(unreachable(service, where, str(exc.strerror or exc).lower()))


async def start_tls(
    writer: asyncio.StreamWriter, endpoint: Endpoint, context: ssl.SSLContext, server_name: str, limit: float
) -> Handshake:
    """The TLS handshake over a connected stream, within `limit` seconds; the stream is TLS afterwards."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(limit):
            # asyncio's own handshake bound stays behind ours, so the timeout is always worded here.
            await writer.start_tls(context, server_hostname=server_name, ssl_handshake_timeout=limit + 1)
    except TimeoutError:
        raise HandshakeTimedOut(
            f"{endpoint.where} accepted the connection but did not answer the TLS hello within {latency(limit)}"
        ) from None
    except ssl.SSLCertVerificationError as exc:
        raise CertificateRejected(endpoint.where, exc.verify_code, _verify_message(exc)) from None
    except ssl.SSLError as exc:
        reason = _ssl_reason(exc)
        if exc.reason == "WRONG_VERSION_NUMBER":
            reason += " (is the port speaking TLS?)"
        raise HandshakeFailed(
            f"the TLS handshake with {endpoint.where} failed: {reason}",
            reason,
            protocol_refused=exc.reason in _PROTOCOL_REFUSED,
        ) from None
    except (ConnectionError, EOFError):
        closed = "the server closed the connection"
        raise HandshakeFailed(f"{endpoint.where} closed the connection during the TLS handshake", closed) from None
    ssl_object = writer.get_extra_info("ssl_object")
    cipher = ssl_object.cipher()
    return Handshake(
        version=str(ssl_object.version()),
        cipher=str(cipher[0]) if cipher else "",
        chain=served_chain(ssl_object),
        latency=time.perf_counter() - started,
    )


def served_chain(ssl_object: Any) -> tuple[bytes, ...]:
    """The certificates the server sent (Python 3.13 made this public; 3.10-3.12 have it on the inner object)."""
    read = getattr(ssl_object, "get_unverified_chain", None) or getattr(
        getattr(ssl_object, "_sslobj", None), "get_unverified_chain", None
    )
    if read is None:
        leaf = ssl_object.getpeercert(binary_form=True)
        return (bytes(leaf),) if leaf else ()
    return tuple(item if isinstance(item, bytes) else bytes(item.public_bytes(_DER)) for item in read() or ())


def bound(limit: float, deadline: float | None) -> float:
    """A phase's time: its own limit, or what is left before `deadline` (loop time) when that is less."""
    if deadline is None:
        return limit
    return max(0.001, min(limit, deadline - asyncio.get_running_loop().time()))


async def probe(
    resolver: SharedResolver,
    endpoint: Endpoint,
    *,
    connect_timeout: float,
    context: ssl.SSLContext | None = None,
    server_name: str | None = None,
    handshake_timeout: float = 0.0,
    deadline: float | None = None,
) -> Probe:
    """Connect (and shake hands when `context` is given), then close: what a client would get. Each phase within
    its own timeout and before `deadline` (loop time)."""
    started = time.perf_counter()
    _, writer, address = await connect(resolver, endpoint, bound(connect_timeout, deadline))
    connected = time.perf_counter() - started
    try:
        handshake = None
        if context is not None:
            limit = bound(handshake_timeout, deadline)
            handshake = await start_tls(writer, endpoint, context, server_name or endpoint.host, limit)
    except BaseException:
        writer.transport.abort()  # a failed or cut handshake: nothing to say politely, and no time to spend
        raise
    await close(writer, bound(_CLOSE_WAIT, deadline))
    return Probe(address, connected, handshake)


async def read_chain(
    resolver: SharedResolver,
    endpoint: Endpoint,
    contexts: TlsContexts,
    server_name: str,
    limit: float,
) -> tuple[bytes, ...] | None:
    """The chain a server serves, unverified (to describe one that was rejected); None when it cannot be read."""
    deadline = asyncio.get_running_loop().time() + limit
    try:
        _, writer, _ = await connect(resolver, endpoint, limit)
    except TcpError:
        return None
    try:
        chain = (await start_tls(writer, endpoint, contexts.unverified(), server_name, bound(limit, deadline))).chain
    except TcpError:
        writer.transport.abort()
        return None
    except BaseException:
        writer.transport.abort()
        raise
    await close(writer, bound(_CLOSE_WAIT, deadline))
    return chain


async def close(writer: asyncio.StreamWriter, limit: float = _CLOSE_WAIT) -> None:
    """Close politely (TLS close_notify) within `limit` seconds, else drop the connection."""
    writer.close()
    try:
        async with asyncio.timeout(limit):
            await writer.wait_closed()
    except (TimeoutError, OSError, ssl.SSLError):
        writer.transport.abort()


def _verify_message(exc: ssl.SSLCertVerificationError) -> str:
    return str(exc.verify_message or _ssl_reason(exc)).rstrip(".")


def _ssl_reason(exc: BaseException) -> str:
    """OpenSSL's words without the `[SSL: X]` prefix and the `(_ssl.c:1006)` suffix."""
    if isinstance(exc, ssl.SSLError):
        text = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    elif isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    else:
        text = str(exc)
    return _SSL_NOISE.sub("", text).strip() or type(exc).__name__
