"""The ClickHouse client's errors, and the one wording of each cause (stopped, silent, refused, timed out).

asynch's many errors for one situation (a stopped server gives one of four) are mapped into these, once.
"""

from __future__ import annotations

import socket
import ssl

from asynch.errors import NetworkError, OperationalError, ServerException

from app import units
from app.clients.errors import speaks_not
from app.text import MESSAGE_LIMIT, printable


class ClickHouseError(Exception):
    """Base of the errors this client raises; each one's text is a finished sentence for a check's output."""


class Unreachable(ClickHouseError):
    """No connection to ClickHouse could be made: nothing listens, the handshake got no answer, the name is unknown."""

    def __init__(self, address: str, reason: str) -> None:
        super().__init__(f"cannot reach ClickHouse at {address}: {reason}")


class NotResolved(ClickHouseError):
    """The host name did not resolve, or its lookup got no answer in time: the DNS lookup's own sentence."""


class NotClickHouse(ClickHouseError):
    """The port answered the handshake, but not in ClickHouse's native protocol (an HTTP or a Redis port...)."""

    def __init__(self, address: str) -> None:
        super().__init__(speaks_not("ClickHouse native", address))


class ConnectionLost(ClickHouseError):
    """ClickHouse stopped answering mid-query: it closed the connection, or a read outlasted the socket timeout."""

    def __init__(self, label: str, address: str, reason: str) -> None:
        super().__init__(f"lost ClickHouse at {address} during {label}: {reason}")


class QueryTimeout(ClickHouseError):
    """A query ran out of its time budget; it was cancelled on the server and its connection closed.

    The budget is the caller's deadline unless `own_timeout` says it was the query's own (tighter) timeout.
    """

    def __init__(self, label: str, elapsed: float, budget: float, own_timeout: bool = False) -> None:
        if own_timeout:
            super().__init__(f"{label} cancelled at its {units.latency(budget)} timeout")
        else:
            super().__init__(f"{label} cancelled at the check's deadline after {units.latency(elapsed)}")
        self.elapsed = elapsed


class ResultTooLarge(ClickHouseError):
    """A result read only to be counted outgrew max_result_bytes; the rest was not read and the query was stopped.

    Vigil bounds it itself: ClickHouse 18.16 accepts max_result_bytes but does not enforce it."""

    def __init__(self, label: str, limit: int) -> None:
        super().__init__(f"{label} returned more than {units.size(limit)} (max_result_bytes): stopped unread")


class ServerError(ClickHouseError):
    """The server answered with an exception (a bad query, a readonly refusal, an unknown user...)."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"ClickHouse error {code}: {text}")
        self.code = code
        self.text = text


def server_error_text(exc: ServerException) -> str:
    """`Code: 164.\\nDB::Exception: Cannot drop table in readonly mode` -> the message part, on one line."""
    text = " ".join(str(exc).split())
    return printable(text.removeprefix(f"Code: {exc.code}. ").removeprefix("DB::Exception: "), MESSAGE_LIMIT)


def unreachable_reason(exc: BaseException, connect_timeout: float) -> str:
    """Why a connection could not be made, in a few words (asynch's NetworkError carries the cause)."""
    if isinstance(exc, NetworkError) and exc.__cause__ is not None:
        exc = exc.__cause__
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return f"no answer within the {units.latency(connect_timeout)} connect timeout"
    if isinstance(exc, socket.gaierror):
        return "host name not resolved"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed ({exc.reason or exc})"
    if isinstance(exc, OperationalError | EOFError | ConnectionError):
        return "connection closed during the handshake"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


def lost_reason(exc: BaseException, socket_timeout: float) -> str:
    """Why a connection stopped mid-query."""
    if isinstance(exc, TimeoutError):
        return f"no data within the {units.latency(socket_timeout)} socket timeout"
    return "connection closed"
