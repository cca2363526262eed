"""The `redis` type's wording of the errors its checks let out: the client words its own (it maps redis-py's
where it catches them, app/clients/redis_errors.py); anything else is a bug in Vigil."""

from __future__ import annotations

from app.clients.errors import PoolExhausted
from app.clients.redis_errors import RedisError


def describe_error(exc: BaseException) -> str | None:
    if isinstance(exc, RedisError | PoolExhausted):
        return str(exc)
    return None
