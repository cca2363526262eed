"""How redis-py's errors read in a check's output: one sentence per cause, an unreachable server always alike."""

from __future__ import annotations

from redis.exceptions import AuthenticationError, BusyLoadingError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.checks.redis.errors import describe_error
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
    assert (
        describe_error(ResponseError("OOM command not allowed")) == "redis refused a command: OOM command not allowed"
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
