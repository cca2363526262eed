"""The `redis` component type: its config, its client's life cycle, its error wording and its check kinds.

Every check bounds its own work and writes nothing but Vigil's canary keys under `key_prefix`. On a cluster
component the one-server kinds run on each node they concern (app/checks/redis/on_cluster.py).
"""

from __future__ import annotations

from app.checks.base import CheckKind, ComponentType
from app.checks.redis import cluster, connectivity, memory, pool, replication, sentinel, session_ttl
from app.checks.redis import on_cluster as spread
from app.checks.redis.cluster_config import RedisClusterState
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
                CheckKind(
                    RedisConnectivity, spread.on_cluster(connectivity.run, spread.CONNECTIVITY), spread.NodesNoMemo
                ),
                CheckKind(RedisPool, spread.on_cluster(pool.run, spread.POOL), spread.NodesPoolMemo),
                CheckKind(
                    RedisSessionTtl, spread.on_cluster(session_ttl.run, spread.SESSIONS), spread.NodesSessionMemo
                ),
                CheckKind(RedisMemory, spread.on_cluster(memory.run, spread.MEMORY), spread.NodesMemoryMemo),
                CheckKind(RedisReplication, spread.on_cluster(replication.run, spread.REPLICATION), spread.NodesNoMemo),
            ),
        ),
        CheckKind(RedisClusterState, cluster.run),
        CheckKind(RedisSentinel, sentinel.run, sentinel.FailoverMemo),
    ),
    open_client=open_client,
    close_client=close_client,
    describe_error=describe_error,
)

__all__ = ["REDIS"]
