"""A `redis` component behind Sentinel: the `sentinel:` block (which Sentinels, which master, their credentials)
and the options of the `sentinel` check kind. Validated once, at load; nothing here talks to Redis.
"""

from __future__ import annotations

import ipaddress
from typing import ClassVar, Literal

from pydantic import Field, SecretStr, field_validator

from app.config.fields import CheckConfig, Duration, SecretFields, Severity

DEFAULT_SENTINEL_PORT = 26379


def split_address(address: str) -> tuple[str, int]:
    """`host:port`, `[v6]:port` or a bare host (port 26379) as (host, port); ValueError naming what is wrong."""
    text = address.strip()
    if not text or any(char in text for char in "/@ "):
        raise ValueError(f"{address!r} is not a host:port address")
    host, port = text, str(DEFAULT_SENTINEL_PORT)
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"{address!r} is not a host:port address")
            port = rest[1:]
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    elif text.count(":") > 1:
        try:  # a bare IPv6 address
            ipaddress.IPv6Address(text)
        except ValueError:
            raise ValueError(f"{address!r} is not a host:port address (write an IPv6 address as [addr]:port)") from None
    if not host:
        raise ValueError(f"{address!r} has no host")
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"{address!r}: the port must be a number from 1 to 65535")
    return host, int(port)


class SentinelTarget(SecretFields):
    """Where the Sentinels are and which master they watch. `username`/`password` are the Sentinels' own (their
    `requirepass`/ACL); the data nodes' credentials stay on the component."""

    secret_fields: ClassVar[tuple[str, ...]] = ("password",)

    master: str = Field(min_length=1)  # the name the Sentinels monitor it under (`sentinel monitor NAME ...`)
    addresses: tuple[str, ...] = Field(min_length=1, max_length=32)  # host:port of each Sentinel
    username: str | None = None
    password: SecretStr | None = None
    role: Literal["primary", "replica"] = "primary"  # replica: the checks read from a replica the Sentinels name
    db: int = Field(default=0, ge=0, le=1000)  # the database number on the data nodes
    tls: bool = False  # Sentinels and data nodes speak TLS (tls_ca_file and tls_verify of the component apply)

    @field_validator("addresses")
    @classmethod
    def _addresses(cls, addresses: tuple[str, ...]) -> tuple[str, ...]:
        seen: set[tuple[str, int]] = set()
        for address in addresses:
            where = split_address(address)
            if where in seen:
                raise ValueError(f"{address!r} is listed twice")
            seen.add(where)
        return addresses

    @property
    def endpoints(self) -> tuple[tuple[str, int], ...]:
        return tuple(split_address(address) for address in self.addresses)


class RedisSentinel(CheckConfig):
    """The Sentinels themselves: reachable for the quorum, agreeing on the primary, its replicas, recent failovers."""

    default_severity: ClassVar[Severity] = Severity.DEGRADED
    kind: Literal["sentinel"] = "sentinel"
    replicas_required: int = Field(default=1, ge=0, le=1000)  # replicas the Sentinels must see up
    recent_failover: Duration = Field(default=3600.0, ge=0.0)  # a failover seen within this warns (0: never)
