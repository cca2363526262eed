"""Running one query for a check: under the safety settings, within the time left before the check's deadline,
with a query id that names the check and step (`vigil:component:check:step:…`) in system.processes.
"""

from __future__ import annotations

import uuid
from typing import Any

from app.checks.base import CheckContext
from app.checks.clickhouse.config import ClickHouseComponent
from app.checks.clickhouse.judge import not_run, query_budget
from app.checks.clickhouse.sql import safety_settings
from app.clients.clickhouse import ClickHouseClient, QueryResult
from app.model import Observation

Context = CheckContext[ClickHouseComponent, Any, ClickHouseClient, Any]


class NoTimeLeft(Exception):
    """The check's deadline is too close for a query to start."""

    def __init__(self, label: str) -> None:
        super().__init__(not_run(label))


async def run_query(ctx: Context, sql: str, step: str, label: str, timeout: float | None = None) -> QueryResult:
    """One query, budgeted to the time left (and its own `timeout`), cancelled on the server when it runs out.

    Raises NoTimeLeft, PoolExhausted or a ClickHouseError (QueryTimeout, ServerError, Unreachable, ConnectionLost).
    """
    budget = query_budget(ctx.remaining(), timeout)
    if budget is None:
        raise NoTimeLeft(label)
    return await ctx.client.execute(
        sql,
        safety_settings(ctx.component, budget.seconds),
        timeout=budget.seconds,
        label=label,
        query_id=f"vigil:{ctx.check_id}:{step}:{uuid.uuid4().hex[:12]}",
        own_timeout=budget.own_timeout,
    )


def cost(prefix: str, result: QueryResult) -> list[Observation]:
    """What a query cost: `<prefix>_latency`, `<prefix>_read_rows`, `<prefix>_read_bytes`."""
    return [
        Observation(f"{prefix}_latency", round(result.elapsed, 6), "s"),
        Observation(f"{prefix}_read_rows", result.read_rows, "rows"),
        Observation(f"{prefix}_read_bytes", result.read_bytes, "bytes"),
    ]
