"""The `clickhouse` component's client life cycle: its config turned into the shared ClickHouseClient, and closed."""

from __future__ import annotations

from app.checks.clickhouse.config import ClickHouseComponent
from app.clients.clickhouse import ClickHouseClient, ClickHouseSettings


def open_client(component: ClickHouseComponent) -> ClickHouseClient:
    """Built in the running loop; connections are made on first use."""
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
