"""The `redis` component type: its config and its checks (connectivity now; the resilience suite plugs in here).

Every check bounds its own work and writes nothing but Vigil's canary keys under `key_prefix`.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from app.checks.base import CheckContext, ComponentType
from app.clients.redis import PoolExhausted, RedisClient, RedisSettings
from app.model import Observation, Outcome, Status
from app.schema import CheckConfig, ComponentConfig, Duration


class RedisConnectivity(CheckConfig):
    """PING round trip and server version."""

    kind: Literal["connectivity"] = "connectivity"
    latency_warn: Duration | None = None  # warn when the PING round trip is slower


RedisCheck = Annotated[RedisConnectivity, Field(discriminator="kind")]


class RedisComponent(ComponentConfig):
    secret_fields: ClassVar[tuple[str, ...]] = ("password",)

    type: Literal["redis"]
    url: str = "redis://127.0.0.1:6379/0"
    username: str | None = None
    password: SecretStr | None = None
    max_connections: int = Field(default=4, ge=1, le=1000)  # Vigil's own pool, per component
    pool_timeout: Duration = 0.5  # waiting for a free connection of Vigil's pool
    connect_timeout: Duration = 1.0
    socket_timeout: Duration = 1.0  # per command
    key_prefix: str = "vigil:"  # the only keys Vigil ever writes (canaries, with a TTL)
    checks: dict[str, RedisCheck] = Field(default_factory=lambda: {"connectivity": RedisConnectivity()})

    @field_validator("url")
    @classmethod
    def _url_scheme(cls, url: str) -> str:
        if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return url

    @model_validator(mode="after")
    def _timeouts_nest(self) -> RedisComponent:
        if not self.pool_timeout < self.socket_timeout:
            raise ValueError("pool_timeout must be shorter than socket_timeout")
        return self

    def secret_values(self) -> list[str]:
        values = super().secret_values()
        if password := urlsplit(self.url).password:
            values.append(password)
        return values

    @property
    def socket_deadline(self) -> float:
        """The longest a single network wait may take; the scheduler checks it is below every check's timeout."""
        return max(self.connect_timeout, self.socket_timeout)


def open_client(component: RedisComponent) -> RedisClient:
    return RedisClient(
        RedisSettings(
            url=component.url,
            password=component.password.get_secret_value() if component.password else None,
            username=component.username,
            max_connections=component.max_connections,
            pool_timeout=component.pool_timeout,
            connect_timeout=component.connect_timeout,
            socket_timeout=component.socket_timeout,
        )
    )


async def close_client(client: RedisClient) -> None:
    await client.close()


def parse_info(raw: Any) -> dict[str, Any]:
    """redis-py parses INFO into a dict already; keep a defensive copy."""
    return dict(raw) if isinstance(raw, dict) else {}


async def connectivity(ctx: CheckContext[RedisClient]) -> Outcome:
    options: RedisConnectivity = ctx.options
    started = time.perf_counter()
    await ctx.client.execute("PING")
    rtt = time.perf_counter() - started
    info = parse_info(await ctx.client.execute("INFO", "server"))
    version = str(info.get("redis_version", "unknown"))
    observed = (
        Observation("latency", round(rtt, 6), "s"),
        Observation("server_version", version),
        Observation("uptime", info.get("uptime_in_seconds"), "s"),
    )
    if options.latency_warn is not None and rtt > options.latency_warn:
        return Outcome(Status.WARN, f"PING took {rtt * 1000:.1f} ms (budget {options.latency_warn * 1000:.0f} ms)", observed)
    return Outcome(Status.PASS, f"PONG in {rtt * 1000:.1f} ms from redis {version}", observed)


def describe_error(exc: BaseException) -> str | None:
    if isinstance(exc, PoolExhausted):
        return str(exc)
    return None


REDIS = ComponentType(
    name="redis",
    config=RedisComponent,
    checks={"connectivity": connectivity},
    open_client=open_client,
    close_client=close_client,
    describe_error=describe_error,
)
