"""How redis-py's errors read in a check's output: one sentence per cause, an unreachable server always alike."""

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

from app.checks.redis.errors import describe_error, refusing_writes
from app.clients.errors import PoolExhausted


def test_errors_read_one_sentence_per_cause() -> None:
    exhausted = "pool exhausted: all 4 of Vigil's connections busy for 500ms"
    assert describe_error(PoolExhausted(exhausted)) == exhausted
    assert describe_error(AuthenticationError("NOAUTH Authentication required.")) == (
        "redis requires authentication and this component has no password: set password or password_file"
    )
    assert describe_error(AuthenticationError("WRONGPASS invalid username-password pair")) == (
        "redis refused Vigil's credentials: WRONGPASS invalid username-password pair"
    )
    assert describe_error(BusyLoadingError("Redis is loading the dataset in memory")) == (
        "redis is loading its dataset into memory and not serving yet"
    )
    assert describe_error(ResponseError("ERR unknown command 'FOO'")) == (
        "redis refused a command: ERR unknown command 'FOO'"
    )
    assert describe_error(ValueError("a bug")) is None  # the scheduler logs it with its traceback


def test_unreachable_reads_alike_whether_refused_or_timed_out_connecting() -> None:
    refused = RedisConnectionError("Error 111 connecting to 127.0.0.1:1. Connection refused.")
    assert describe_error(refused) == "cannot reach redis: Error 111 connecting to 127.0.0.1:1. Connection refused."
    assert describe_error(RedisTimeoutError("Timeout connecting to server")) == (
        "cannot reach redis: Timeout connecting to server"
    )
    assert describe_error(RedisTimeoutError("Timeout reading from 127.0.0.1:6379")) == (
        "redis did not answer within the socket timeout: Timeout reading from 127.0.0.1:6379"
    )


def test_refused_writes_read_as_what_they_mean_for_the_application() -> None:
    """Not the raw pipeline error (`Command # 2 (SET vigil:…) of pipeline caused error: OOM …`)."""
    oom = OutOfMemoryError(
        "Command # 2 (SET vigil:x 1) of pipeline caused error: OOM command not allowed when used memory > 'maxmemory'."
    )
    assert describe_error(oom) == (
        "Redis is refusing writes: out of memory (maxmemory reached, nothing it may evict); "
        "new sessions cannot be stored"
    )
    assert refusing_writes("noeviction") == (
        "Redis is refusing writes: out of memory under noeviction; new sessions cannot be stored"
    )
    assert describe_error(ReadOnlyError("You can't write against a read only replica.")) == (
        "redis refused a write: it is a read-only replica (did it just change role?)"
    )
    assert describe_error(MasterDownError("Link with MASTER is down and replica-serve-stale-data is set to 'no'.")) == (
        "redis is a replica whose link to its primary is down, and it serves no stale data "
        "(replica-serve-stale-data no)"
    )
