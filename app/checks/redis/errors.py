"""redis-py's errors as sentences, one per cause; the scheduler scrubs secrets from them afterwards.

An unreachable server (refused, reset, no connection within the connect timeout) always reads `cannot reach redis: …`.
"""

from __future__ import annotations

from redis.exceptions import (
    AuthenticationError,
    BusyLoadingError,
    MasterDownError,
    OutOfMemoryError,
    ReadOnlyError,
    ResponseError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.clients.errors import PoolExhausted
from app.text import MESSAGE_LIMIT, printable

_NO_CREDENTIALS = ("NOAUTH", "Authentication required", "HELLO must be called with the client already authenticated")
_CONNECT_TIMEOUT = "Timeout connecting to server"  # redis-py's words when connect_timeout passes


def refusing_writes(policy: str | None) -> str:
    """A write refused with OOM, as what it means for the application. `policy`: the maxmemory-policy, when known
    (OOM comes under noeviction, or under a volatile-* policy with no key left that it may evict)."""
    cause = "out of memory" + (f" under {policy}" if policy else " (maxmemory reached, nothing it may evict)")
    return f"Redis is refusing writes: {cause}; new sessions cannot be stored"


def describe_error(exc: BaseException) -> str | None:
    if isinstance(exc, PoolExhausted):
        return str(exc)
    if isinstance(exc, AuthenticationError):
        if any(marker in str(exc) for marker in _NO_CREDENTIALS):
            return "redis requires authentication and this component has no password: set password or password_file"
        return f"redis refused Vigil's credentials: {printable(str(exc), MESSAGE_LIMIT)}"
    if isinstance(exc, BusyLoadingError):
        return "redis is loading its dataset into memory and not serving yet"
    if isinstance(exc, RedisConnectionError) or isinstance(exc, RedisTimeoutError) and str(exc) == _CONNECT_TIMEOUT:
        return f"cannot reach redis: {exc}"
    if isinstance(exc, RedisTimeoutError):
        return f"redis did not answer within the socket timeout: {exc}"
    if isinstance(exc, OutOfMemoryError):
        return refusing_writes(None)
    if isinstance(exc, ReadOnlyError):
        return "redis refused a write: it is a read-only replica (did it just change role?)"
    if isinstance(exc, MasterDownError):
        return (
            "redis is a replica whose link to its primary is down, and it serves no stale data "
            "(replica-serve-stale-data no)"
        )
    if isinstance(exc, ResponseError):
        return f"redis refused a command: {printable(str(exc), MESSAGE_LIMIT)}"
    return None
