"""How redis-py's errors read once the client mapped them (app/clients/redis_errors.py): one sentence per cause."""

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

from app.checks.redis.errors import describe_error
from app.clients.errors import PoolExhausted
from app.clients.redis_errors import OutOfMemory, mapped, refusing_writes
from app.clients.tcp import ConnectRefused

ADDRESS = "127.0.0.1:6379"


def word(exc: LibraryError, label: str = "PING") -> str:
    error = mapped(exc, label, ADDRESS, 0.3)
    assert error is not None, exc
    text = describe_error(error)
    assert text is not None
    return text


def test_errors_read_one_sentence_per_cause() -> None:
    exhausted = "pool exhausted: all 4 of Vigil's connections busy for 500ms"
    assert describe_error(PoolExhausted(exhausted)) == exhausted
    assert word(AuthenticationError("NOAUTH Authentication required.")) == (
        "redis requires authentication and this component has no password: set password or password_file"
    )
    assert word(AuthenticationError("WRONGPASS invalid username-password pair")) == (
        "redis refused Vigil's credentials: WRONGPASS invalid username-password pair"
    )
    assert word(BusyLoadingError("Redis is loading the dataset in memory")) == (
        "redis is loading its dataset into memory and not serving yet"
    )
    assert word(ResponseError("ERR unknown command 'FOO'")) == "redis refused a command: ERR unknown command 'FOO'"
    assert describe_error(ValueError("a bug")) is None  # the scheduler logs it with its traceback
    assert describe_error(RedisConnectionError("not mapped")) is None  # only the client's own errors are worded


def test_connection_trouble_names_the_address_and_the_cause() -> None:
    refused = RedisConnectionError("Error 111 connecting")
    refused.__cause__ = ConnectRefused(f"cannot reach Redis at {ADDRESS}: connection refused")
    assert word(refused) == f"cannot reach Redis at {ADDRESS}: connection refused"
    assert word(RedisTimeoutError(f"Timeout reading from {ADDRESS}"), "INFO") == (
        f"Redis at {ADDRESS} did not answer INFO within the 300 ms socket timeout"
    )
    assert word(RedisConnectionError("Connection closed by server.")) == (
        f"lost Redis at {ADDRESS} during PING: connection closed"
    )
    assert word(InvalidResponse('Protocol error, got "H" as reply type byte')) == (
        f"{ADDRESS} does not speak the Redis protocol"
    )


def test_refused_writes_read_as_what_they_mean_for_the_application() -> None:
    """Not the raw pipeline error (`Command # 2 (SET vigil:…) of pipeline caused error: OOM …`)."""
    oom = OutOfMemoryError(
        "Command # 2 (SET vigil:x 1) of pipeline caused error: OOM command not allowed when used memory > 'maxmemory'."
    )
    assert isinstance(mapped(oom, "SET", ADDRESS, 0.3), OutOfMemory)
    assert word(oom) == (
        "Redis is refusing writes: out of memory (maxmemory reached, nothing it may evict); "
        "new sessions cannot be stored"
    )
    assert refusing_writes("noeviction") == (
        "Redis is refusing writes: out of memory under noeviction; new sessions cannot be stored"
    )
    assert word(ReadOnlyError("You can't write against a read only replica.")) == (
        "redis refused a write: it is a read-only replica (did it just change role?)"
    )
    assert word(MasterDownError("Link with MASTER is down and replica-serve-stale-data is set to 'no'.")) == (
        "redis is a replica whose link to its primary is down, and it serves no stale data "
        "(replica-serve-stale-data no)"
    )
