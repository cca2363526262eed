"""The `clickhouse` component type: its config and its checks (connectivity now; the analytics suite plugs in here).

Every query runs with safety settings (readonly, execution time, memory and result caps).
"""

from __future__ import annotations

import time
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, SecretStr

from app.checks.base import CheckContext, ComponentType
from app.clients.clickhouse import ClickHouseClient, ClickHouseSettings, PoolExhausted
from app.model import Observation, Outcome, Status
from app.schema import CheckConfig, ComponentConfig, Duration


class ClickHouseConnectivity(CheckConfig):
    """`SELECT 1` over the native protocol, server version and uptime."""

    kind: Literal["connectivity"] = "connectivity"
    latency_warn: Duration | None = None


ClickHouseCheck = Annotated[ClickHouseConnectivity, Field(discriminator="kind")]


class ClickHouseComponent(ComponentConfig):
    secret_fields: ClassVar[tuple[str, ...]] = ("password",)

    type: Literal["clickhouse"]
    host: str = "127.0.0.1"
    port: int = Field(default=9000, ge=1, le=65535)  # native protocol
    user: str = "default"
    password: SecretStr | None = None
    database: str = "default"
    secure: bool = False
    max_connections: int = Field(default=4, ge=1, le=100)
    pool_timeout: Duration = 0.5
    connect_timeout: Duration = 1.0
    socket_timeout: Duration = 3.0  # per network read; queries are also bounded by max_execution_time
    max_memory_usage: int = Field(default=2_000_000_000, ge=0)  # bytes per query (0 = server default)
    max_result_rows: int = Field(default=100_000, ge=0)
    checks: dict[str, ClickHouseCheck] = Field(
        default_factory=lambda: {"connectivity": ClickHouseConnectivity()}
    )

    @property
    def socket_deadline(self) -> float:
        return max(self.connect_timeout, self.socket_timeout)


def open_client(component: ClickHouseComponent) -> ClickHouseClient:
    return ClickHouseClient(
        ClickHouseSettings(
            host=component.host,
            port=component.port,
            user=component.user,
            password=component.password.get_secret_value() if component.password else "",
            database=component.database,
            secure=component.secure,
            max_connections=component.max_connections,
            pool_timeout=component.pool_timeout,
            connect_timeout=component.connect_timeout,
            socket_timeout=component.socket_timeout,
        )
    )


async def close_client(client: ClickHouseClient) -> None:
    await client.close()


def safety_settings(ctx: CheckContext[ClickHouseClient]) -> dict[str, Any]:
    """Settings every Vigil query runs under: read-only and bounded by the time left in the run."""
    component: ClickHouseComponent = ctx.component
    settings: dict[str, Any] = {
        "readonly": 1,
        "max_execution_time": max(1, int(ctx.remaining())),
        "max_result_rows": component.max_result_rows,
    }
    if component.max_memory_usage:
        settings["max_memory_usage"] = component.max_memory_usage
    return settings


async def connectivity(ctx: CheckContext[ClickHouseClient]) -> Outcome:
    options: ClickHouseConnectivity = ctx.options
    started = time.perf_counter()
    rows = await ctx.client.query("SELECT 1, version(), uptime()", safety_settings(ctx))
    rtt = time.perf_counter() - started
    one, version, uptime = rows[0]
    if one != 1:
        return Outcome(Status.FAIL, f"SELECT 1 returned {one!r}")
    observed = (
        Observation("latency", round(rtt, 6), "s"),
        Observation("server_version", str(version)),
        Observation("uptime", int(uptime), "s"),
    )
    if options.latency_warn is not None and rtt > options.latency_warn:
        return Outcome(
            Status.WARN, f"SELECT 1 took {rtt * 1000:.1f} ms (budget {options.latency_warn * 1000:.0f} ms)", observed
        )
    return Outcome(Status.PASS, f"SELECT 1 in {rtt * 1000:.1f} ms from ClickHouse {version}", observed)


def describe_error(exc: BaseException) -> str | None:
    if isinstance(exc, PoolExhausted):
        return str(exc)
    return None


CLICKHOUSE = ComponentType(
    name="clickhouse",
    config=ClickHouseComponent,
    checks={"connectivity": connectivity},
    open_client=open_client,
    close_client=close_client,
    describe_error=describe_error,
)
