"""What Vigil asks a Redis server about itself: INFO sections, which process answered, its configured limits.

Values come back as redis-py parsed them (ints, floats, strings); the helpers here read them defensively.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.checks.redis.commands import info_sections
from app.clients.redis import RedisClient

Info = dict[str, Any]


def as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def as_text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def is_replica(replication: Info) -> bool:
    """`role:slave` in INFO replication (Redis still says slave there): a replica, read-only by default."""
    return str(replication.get("role", "")) == "slave"


def primary_address(replication: Info) -> str:
    """A replica's primary, `host:port`, as the replica names it (master_host, master_port)."""
    return f"{as_text(replication.get('master_host', '?'))}:{as_text(replication.get('master_port', '?'))}"


async def info(client: RedisClient, *sections: str) -> list[Info]:
    """Several INFO sections in one round trip, in the order asked (an empty dict for a reply that is not one)."""
    replies = await client.pipeline(info_sections(*sections))
    return [dict(reply) if isinstance(reply, dict) else {} for reply in replies]


@dataclass(frozen=True, slots=True)
class ServerIdentity:
    """Which Redis process answered: a new run_id (or a smaller uptime) means it restarted since the last run.

    `address` is where it answered: behind Sentinel a failover moves the checks to another server, which is a
    new process too, but not a restart."""

    run_id: str
    uptime: int | None
    address: str = ""

    @classmethod
    def from_info(cls, server: Info, address: str = "") -> ServerIdentity:
        return cls(str(server.get("run_id", "")), as_int(server.get("uptime_in_seconds")), address)

    def moved_from(self, previous: ServerIdentity | None) -> str | None:
        """The address the last run talked to, when this run talks to another server (a failover); else None."""
        if previous is None or not previous.address or not self.address or previous.address == self.address:
            return None
        return previous.address

    def restarted_since(self, previous: ServerIdentity | None) -> bool:
        """False on a first run (nothing to compare with)."""
        if previous is None:
            return False
        if previous.run_id != self.run_id:
            return True
        return previous.uptime is not None and self.uptime is not None and self.uptime < previous.uptime


def counter_growth(previous: int | None, value: int | None, restarted: bool) -> int | None:
    """Growth of a server counter since the last run: the whole counter after a restart (it began again at 0),
    never negative (CONFIG RESETSTAT), None when there is no baseline yet or no value now."""
    if value is None or previous is None and not restarted:
        return None
    if restarted or previous is None:
        return value
    return max(0, value - previous)


async def maxclients_of(client: RedisClient, clients: Info) -> tuple[int | None, str]:
    """maxclients and where it came from: INFO clients (Redis 7+), else CONFIG GET, else unknown."""
    if (value := as_int(clients.get("maxclients"))) is not None:
        return value, "info"
    if (value := as_int(await client.config_get("maxclients"))) is not None:
        return value, "config"
    return None, "unknown"


async def memory_settings(client: RedisClient, memory: Info) -> tuple[int | None, str | None]:
    """maxmemory (0: no limit) and maxmemory-policy: INFO memory, else CONFIG GET (servers before 4.0 keep them
    out of INFO), else None (CONFIG refused)."""
    maxmemory = as_int(memory.get("maxmemory"))
    if maxmemory is None:
        maxmemory = as_int(await client.config_get("maxmemory"))
    policy = memory.get("maxmemory_policy") or await client.config_get("maxmemory-policy")
    return maxmemory, None if policy is None else str(policy)
