"""The Redis client's errors, and the one wording of each cause; redis-py's errors are mapped into these, once.

A server that cannot be reached reads as every type's does (`cannot reach Redis at <address>: <cause>`, or the DNS
lookup's own sentence); one that drops the connection mid-command as ClickHouse's (`lost Redis at <address>
during <command>: connection closed`); a port that answers in another protocol `does not speak the Redis protocol`.
"""

from __future__ import annotations

from redis.exceptions import (
    AuthenticationError,
    BusyLoadingError,
    InvalidResponse,
    MasterDownError,
    OutOfMemoryError,
    ReadOnlyError,
    ResponseError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError as LibraryError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app import units
from app.clients.errors import REFUSED, speaks_not, unreachable
from app.clients.tcp import TcpError
from app.text import MESSAGE_LIMIT, printable

_NO_CREDENTIALS = ("NOAUTH", "Authentication required", "HELLO must be called with the client already authenticated")


class RedisError(Exception):
    """Base of the errors this client raises; each one's text is a finished sentence for a check's output."""


class Unreachable(RedisError):
    """No connection could be made: the name did not resolve, nothing listens, no answer, the TLS handshake failed."""


class ConnectionLost(RedisError):
    """Redis closed the connection mid-command."""

    def __init__(self, label: str, address: str, reason: str) -> None:
        super().__init__(f"lost Redis at {address} during {label}: {reason}")


class NoAnswer(RedisError):
    """A command's reply did not come within the socket timeout (the connection is dropped, never reused)."""

    def __init__(self, label: str, address: str, socket_timeout: float) -> None:
        super().__init__(
            f"Redis at {address} did not answer {label} within the {units.latency(socket_timeout)} socket timeout"
        )


class NotRedis(RedisError):
    """The port answered, but not in the Redis protocol (an HTTP server, a ClickHouse port...)."""

    def __init__(self, address: str) -> None:
        super().__init__(speaks_not("Redis", address))


class Refused(RedisError):
    """The server answered a command with an error: credentials, loading, a read-only replica, an unknown command."""


class OutOfMemory(Refused):
    """A write refused with OOM (maxmemory reached and nothing it may evict)."""

    def __init__(self, policy: str | None = None) -> None:
        super().__init__(refusing_writes(policy))


def refusing_writes(policy: str | None) -> str:
    """A write refused with OOM, as what it means for the application. `policy`: the maxmemory-policy, when known
    (OOM comes under noeviction, or under a volatile-* policy with no key left that it may evict)."""
    cause = "out of memory" + (f" under {policy}" if policy else " (maxmemory reached, nothing it may evict)")
    return f"Redis is refusing writes: {cause}; new sessions cannot be stored"


_REFUSALS = (ResponseError, AuthenticationError, BusyLoadingError)  # the last two are ConnectionErrors in redis-py


def refused(exc: LibraryError) -> Refused:
    """A reply that is an error, as this client's (also for the replies of a pipeline that does not raise)."""
    if isinstance(exc, AuthenticationError):
        if any(marker in str(exc) for marker in _NO_CREDENTIALS):
            return Refused(
                "redis requires authentication and this component has no password: set password or password_file"
            )
        return Refused(f"redis refused Vigil's credentials: {printable(str(exc), MESSAGE_LIMIT)}")
    if isinstance(exc, BusyLoadingError):
        return Refused("redis is loading its dataset into memory and not serving yet")
    if isinstance(exc, OutOfMemoryError):
        return OutOfMemory()
    if isinstance(exc, ReadOnlyError):
        return Refused("redis refused a write: it is a read-only replica (did it just change role?)")
    if isinstance(exc, MasterDownError):
        return Refused(
            "redis is a replica whose link to its primary is down, and it serves no stale data "
            "(replica-serve-stale-data no)"
        )
    return Refused(f"redis refused a command: {printable(str(exc), MESSAGE_LIMIT)}")


def mapped(exc: LibraryError, label: str, address: str, socket_timeout: float) -> RedisError | None:
    """redis-py's error as this client's, or None for one it does not know (a bug in Vigil)."""
    cause = exc.__cause__
    if isinstance(cause, TcpError):  # raised by this client's own connect, wrapped by redis-py
        return Unreachable(str(cause))
    if isinstance(cause, ConnectionRefusedError | FileNotFoundError):  # a unix socket: nothing listens, or no file
        reason = REFUSED if isinstance(cause, ConnectionRefusedError) else "no such socket"
        return Unreachable(unreachable("Redis", address, reason))
    if isinstance(exc, _REFUSALS):
        return refused(exc)
    if isinstance(exc, InvalidResponse) or isinstance(cause, InvalidResponse):
        return NotRedis(address)
    if isinstance(exc, RedisTimeoutError):
        return NoAnswer(label, address, socket_timeout)
    if isinstance(exc, RedisConnectionError):
        return ConnectionLost(label, address, "connection closed")
    return None


# -- a cluster's nodes ----------------------------------------------------------------------------------


class NodeSilent(RedisError):
    """A node whose work did not finish within its share of the check's time."""

    def __init__(self, address: str, seconds: float) -> None:
        super().__init__(f"Redis at {address} did not answer within {units.latency(seconds)}, its time in this run")


class TooManyNodes(RedisError):
    """A cluster with more nodes than Vigil may connect to (`cluster.max_nodes`): checked whole or not at all."""

    def __init__(self, count: int, limit: int) -> None:
        super().__init__(
            f"the Redis cluster has {count} nodes, more than cluster.max_nodes ({limit}) Vigil may connect to: raise it"
        )
