"""The `query_performance` check: each configured query in turn, timed against its SLA under the safety settings.

A query cancelled at its timeout, refused by the server or not run for lack of time is a finding, not an error:
the other queries still run, unless the cancelled one is still running on the server: then none starts after it.
"""

from __future__ import annotations

from app.checks.base import CheckContext
from app.checks.clickhouse import judge
from app.checks.clickhouse.config import ClickHouseComponent, ClickHouseQueryPerformance
from app.checks.clickhouse.judge import QueryRun
from app.checks.clickhouse.query import NoTimeLeft, PreviousQueryRunning, QueryMemo, cost, run_query
from app.clients.clickhouse import ClickHouseClient
from app.clients.clickhouse_errors import QueryTimeout, ServerError
from app.model import Observation, Outcome


async def run(
    ctx: CheckContext[ClickHouseComponent, ClickHouseQueryPerformance, ClickHouseClient, QueryMemo],
) -> Outcome:
    runs: dict[str, QueryRun] = {}
    observed: list[Observation] = []
    blocked: str | None = None
    for name, query in ctx.options.queries.items():
        if blocked is not None:
            runs[name] = QueryRun(blocked=blocked)
            continue
        try:
            result = await run_query(ctx, query.sql, name, f"query {name}", timeout=query.timeout, keep_rows=False)
        except PreviousQueryRunning as exc:
            if not runs:  # left over from an earlier run: the whole run is that one sentence
                raise
            blocked = str(exc)
            runs[name] = QueryRun(blocked=blocked)
        except NoTimeLeft:
            runs[name] = QueryRun()
        except QueryTimeout as exc:
            observed.append(Observation(f"{name}_latency", round(exc.elapsed, 6), "s"))
            runs[name] = QueryRun(cancelled=str(exc))
        except ServerError as exc:
            runs[name] = QueryRun(error=(exc.code, exc.text))
        else:
            observed.extend(cost(name, result, query.sla))
            runs[name] = QueryRun(elapsed=result.elapsed)
    return judge.query_performance(ctx.options, runs, observed)
