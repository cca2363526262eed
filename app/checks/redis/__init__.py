"""The `redis` component type: its config, its client's life cycle, its error wording and its check kinds.

Every check bounds its own work and writes nothing but Vigil's canary keys under `key_prefix`.
"""

from __future__ import annotations

from app.checks.base import CheckKind, ComponentType
from app.checks.redis import connectivity, memory, pool, replication, sentinel, session_ttl
from app.checks.redis.component import close_client, open_client
from app.checks.redis.config import (
    RedisComponent,
    RedisConnectivity,
    RedisMemory,
    RedisPool,
    RedisReplication,
    RedisSessionTtl,
)
from app.checks.redis.errors import describe_error
from app.checks.redis.sentinel_config import RedisSentinel
from app.checks.redis.sentinel_runs import naming_server

REDIS = ComponentType(
    config=RedisComponent,
    kinds=(
        *map(
            naming_server,  # behind Sentinel, outputs name the server of the run
            (
                CheckKind(RedisConnectivity, connectivity.run),
                CheckKind(RedisPool, pool.run, pool.PoolMemo),
                CheckKind(RedisSessionTtl, session_ttl.run, session_ttl.SessionMemo),
                CheckKind(RedisMemory, memory.run, memory.MemoryMemo),
                CheckKind(RedisReplication, replication.run),
            ),
        ),
        CheckKind(RedisSentinel, sentinel.run, sentinel.FailoverMemo),
    ),
    open_client=open_client,
    close_client=close_client,
    describe_error=describe_error,
)

__all__ = ["REDIS"]
