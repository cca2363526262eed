"""The `connectivity` check: `SELECT 1, version(), uptime()` over the native protocol, timed round trip."""

from __future__ import annotations

import time

from app.checks.base import CheckContext
from app.checks.clickhouse import judge
from app.checks.clickhouse.config import ClickHouseComponent, ClickHouseConnectivity
from app.checks.clickhouse.query import QueryMemo, run_query
from app.checks.clickhouse.sql import CONNECTIVITY
from app.clients.clickhouse import ClickHouseClient
from app.model import Outcome


async def run(ctx: CheckContext[ClickHouseComponent, ClickHouseConnectivity, ClickHouseClient, QueryMemo]) -> Outcome:
    started = time.perf_counter()
    result = await run_query(ctx, CONNECTIVITY, "select1", "SELECT 1")
    return judge.connectivity(result.rows[0], time.perf_counter() - started, ctx.options.latency_warn)
