"""The errors of a Redis reached through Sentinel, and the one wording of what a Sentinel answered or did not.

A Sentinel that cannot be reached reads as every server does (`cannot reach Sentinel at <address>: <cause>`); the
Sentinels together not naming a primary read `no Sentinel of <master> named a primary it sees up: <each one's cause>`.
"""

from __future__ import annotations

from redis.exceptions import AuthenticationError, InvalidResponse, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError as LibraryError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app import units
from app.clients.errors import REFUSED, speaks_not, unreachable
from app.clients.redis_errors import _NO_CREDENTIALS, RedisError
from app.clients.tcp import TcpError
from app.text import MESSAGE_LIMIT, printable

SERVICE = "Sentinel"
_POOL_EMPTY = "No connection available."


class SentinelError(RedisError):
    """One Sentinel's failure to answer, as a finished sentence naming it."""


class NoPrimary(RedisError):
    """No Sentinel named a primary (or a replica, for `role: replica`) that it sees up."""

    def __init__(self, master: str, role: str, causes: list[str]) -> None:
        what = "a primary" if role == "primary" else "a replica"
        super().__init__(f"no Sentinel of {master} named {what} it sees up: {'; '.join(causes)}")


class Demoted(RedisError):
    """The primary Vigil was connected to turned into a replica (a failover); the next connection asks again."""

    def __init__(self, address: str) -> None:
        super().__init__(
            f"redis at {address} is no longer the primary (a failover demoted it); the next run asks the Sentinels again"
        )


def sentinel_error(exc: BaseException, label: str, address: str, socket_timeout: float, pool_timeout: float) -> str:
    """What went wrong asking the Sentinel at `address`, as a sentence naming it."""
    cause = exc.__cause__
    if isinstance(cause, TcpError):  # raised by the client's own connect (which names the Sentinel)
        return str(cause)
    if isinstance(cause, ConnectionRefusedError):
        return unreachable(SERVICE, address, REFUSED)
    if isinstance(exc, AuthenticationError):
        if any(marker in str(exc) for marker in _NO_CREDENTIALS):
            return f"Sentinel at {address} requires authentication and sentinel.password is not set"
        return f"Sentinel at {address} refused Vigil's credentials: {printable(str(exc), MESSAGE_LIMIT)}"
    if isinstance(exc, ResponseError):
        return f"Sentinel at {address} refused {label}: {printable(str(exc), MESSAGE_LIMIT)}"
    if isinstance(exc, InvalidResponse) or isinstance(cause, InvalidResponse):
        return speaks_not("Redis Sentinel", address)
    if isinstance(exc, RedisTimeoutError | TimeoutError):
        return f"Sentinel at {address} did not answer {label} within the {units.latency(socket_timeout)} socket timeout"
    if isinstance(exc, RedisConnectionError) and str(exc) == _POOL_EMPTY:
        return f"all of Vigil's connections to Sentinel at {address} stayed busy for {units.span(pool_timeout)}"
    if isinstance(exc, RedisConnectionError):
        return f"lost Sentinel at {address} during {label}: connection closed"
    if isinstance(exc, LibraryError):
        return f"Sentinel at {address} failed {label}: {printable(str(exc), MESSAGE_LIMIT)}"
    raise exc  # not the library's: a bug in Vigil, raised as it is
