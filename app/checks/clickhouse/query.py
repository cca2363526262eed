"""Running one query for a check: under the safety settings, within the time left before the check's deadline,
with a query id that names the check and step (`vigil:component:check:step:…`) in system.processes, and never
while a query of the same check that was cut off (timeout, cancellation, lost connection) still runs on the server.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import TypeAlias, TypeVar

from app import units
from app.checks.base import CheckContext
from app.checks.clickhouse.config import ClickHouseComponent
from app.checks.clickhouse.judge import DEADLINE_MARGIN, not_run, query_budget
from app.checks.clickhouse.sql import running_query, safety_settings
from app.clients.clickhouse import ClickHouseClient
from app.clients.clickhouse_errors import ConnectionLost, QueryTimeout
from app.clients.clickhouse_results import QueryResult
from app.config.fields import CheckConfig
from app.model import Limit, Observation


@dataclass(slots=True)
class QueryMemo:
    """What a `clickhouse` check remembers between runs: its queries that were cut off and may still run on the
    server (query id -> label), until system.processes shows them gone."""

    interrupted: dict[str, str] = field(default_factory=dict)


OptionsT = TypeVar("OptionsT", bound=CheckConfig)
# A `clickhouse` check's context; helpers shared by the kinds are generic over the kind's options.
Context: TypeAlias = CheckContext[ClickHouseComponent, OptionsT, ClickHouseClient, QueryMemo]


class NoTimeLeft(Exception):
    """The check's deadline is too close for a query to start."""

    def __init__(self, label: str) -> None:
        super().__init__(not_run(label))


class PreviousQueryRunning(Exception):
    """A query this check cut off earlier still runs on the server: starting another would pile load on it."""

    def __init__(self, label: str, elapsed: float) -> None:
        super().__init__(
            f"previous {label} still running on the server after cancel ({units.latency(elapsed)} so far); "
            "not starting another"
        )
        self.label = label
        self.elapsed = elapsed


async def run_query(
    ctx: Context[OptionsT], sql: str, step: str, label: str, timeout: float | None = None, *, keep_rows: bool = True
) -> QueryResult:
    """One query, budgeted to the time left (and its own `timeout`), cancelled on the server when it runs out.

    Raises PreviousQueryRunning, NoTimeLeft, PoolExhausted or a ClickHouseError (QueryTimeout, ServerError,
    Unreachable, ConnectionLost).
    """
    if ctx.memo.interrupted:
        await _previous_queries_gone(ctx)
    query_id = f"vigil:{ctx.check_id}:{step}:{uuid.uuid4().hex[:12]}"
    try:
        return await _send(ctx, sql, label, query_id, timeout, keep_rows)
    except (QueryTimeout, ConnectionLost, asyncio.CancelledError):
        ctx.memo.interrupted[query_id] = label  # may still run there: the next query looks first
        raise


async def _send(
    ctx: Context[OptionsT], sql: str, label: str, query_id: str, timeout: float | None, keep_rows: bool
) -> QueryResult:
    budget = query_budget(ctx.remaining(), timeout)
    if budget is None:
        raise NoTimeLeft(label)
    return await ctx.client.execute(
        sql,
        safety_settings(ctx.component, budget.seconds),
        timeout=budget.seconds,
        label=label,
        query_id=query_id,
        own_timeout=budget.own_timeout,
        keep_rows=keep_rows,
    )


async def _previous_queries_gone(ctx: Context[OptionsT]) -> None:
    """Forget the check's cut-off queries that system.processes no longer shows; while one is still there, send it
    KILL QUERY again (in the background) and raise PreviousQueryRunning.

    One small query, made only after a query was cut off. A cancellation Vigil is still sending (a query cut off
    moments ago, in this run) is given up to half the time left to finish first.
    """
    memo = ctx.memo
    ids = list(memo.interrupted)
    await ctx.client.stopped(ids, (ctx.remaining() - DEADLINE_MARGIN) / 2)
    query_id = f"vigil:{ctx.check_id}:previous:{uuid.uuid4().hex[:12]}"
    result = await _send(ctx, running_query(ids), "system.processes query", query_id, None, True)
    running = {str(qid): float(elapsed) for qid, elapsed in result.rows}
    for qid in ids:
        if qid not in running:
            del memo.interrupted[qid]
    if running:
        ctx.client.kill_later(*running)
        longest = max(running, key=running.__getitem__)
        raise PreviousQueryRunning(memo.interrupted[longest], running[longest])


def cost(prefix: str, result: QueryResult, sla: float | None = None) -> list[Observation]:
    """What a query cost: `<prefix>_latency` (against its SLA, when it has one: forecast), `_read_rows`, `_read_bytes`."""
    limit = None if sla is None else Limit(sla, f"its {units.latency(sla)} SLA")
    return [
        Observation(f"{prefix}_latency", round(result.elapsed, 6), "s", limit),
        Observation(f"{prefix}_read_rows", result.read_rows, "rows"),
        Observation(f"{prefix}_read_bytes", result.read_bytes, "bytes"),
    ]
