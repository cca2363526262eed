"""A `redis` component's `cluster:` settings (the seeds Vigil finds the topology from) and the `cluster` kind's options.

Validated once, at load; nothing here talks to Redis.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from app.clients.redis_topology import host_port
from app.config.fields import CheckConfig, Frozen


class ClusterSeeds(Frozen):
    """Where Vigil starts: any few nodes of the cluster; it follows the topology they report."""

    seeds: tuple[str, ...] = Field(min_length=1, max_length=100)  # host:port of some nodes
    max_nodes: int = Field(
        default=32, ge=1, le=1000
    )  # nodes Vigil connects to at most (each a pool of max_connections)
    tls: bool = False  # the nodes speak TLS (tls_ca_file and tls_verify of the component apply)

    @field_validator("seeds")
    @classmethod
    def _addresses(cls, seeds: tuple[str, ...]) -> tuple[str, ...]:
        for seed in seeds:
            try:
                host_port(seed)
            except ValueError as exc:
                raise ValueError(f"seed {exc}; write host:port") from None
        return seeds


class RedisClusterState(CheckConfig):
    """The cluster as its nodes see it: state, slot coverage, replicas per primary, failing nodes, epochs."""

    kind: Literal["cluster"] = "cluster"
    replicas_required: int = Field(default=1, ge=0, le=100)  # replicas each primary should have (fewer warns)
