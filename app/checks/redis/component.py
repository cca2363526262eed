"""The `redis` component's client life cycle: its config turned into the shared RedisClient, and closed.

The client itself (a bounded blocking pool, explicit timeouts, no retries) is app/clients/redis.py.
"""

from __future__ import annotations

from app.checks.redis.config import RedisComponent
from app.checks.redis.sentinel_runs import sentinel_client
from app.clients.redis import RedisClient, RedisSettings
from app.clients.redis_cluster import ClusterSettings, RedisClusterClient


def open_client(component: RedisComponent) -> RedisClient | RedisClusterClient:
    """Built in the running loop; connections are made on first use."""
    if (cluster := component.cluster) is not None:
        return RedisClusterClient(ClusterSettings(cluster.seeds, cluster.max_nodes, cluster.tls, settings(component)))
    if component.sentinel is not None:
        return sentinel_client(settings(component), component.sentinel)
    return RedisClient(settings(component))


def settings(component: RedisComponent) -> RedisSettings:
    """One server's connection settings (on a cluster: each node's, its url replaced by the node's; behind Sentinel:
    the data nodes', wherever the Sentinels place them)."""
    return RedisSettings(
        url=component.url,
        password=component.password.get_secret_value() if component.password else None,
        username=component.username,
        max_connections=component.max_connections,
        pool_timeout=component.pool_timeout,
        connect_timeout=component.connect_timeout,
        socket_timeout=component.socket_timeout,
        tls_ca_file=component.tls_ca_file,
        tls_verify=component.tls_verify,
    )


async def close_client(client: RedisClient | RedisClusterClient) -> None:
    await client.close()
