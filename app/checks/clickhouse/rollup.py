"""The `rollup` check: each level of a chain (raw -> hourly -> daily) against the one below, per closed bucket.

Each level is read once, grouped by its own bucket, and rolled up further in Vigil (`chain`), so no level is
scanned more than once per run.
"""

from __future__ import annotations

from app.checks.base import CheckContext, NoMemo
from app.checks.clickhouse import chain, sql
from app.checks.clickhouse.chain import Rows
from app.checks.clickhouse.config import ClickHouseComponent, ClickHouseRollup
from app.checks.clickhouse.query import cost, run_query
from app.checks.clickhouse.schema import SchemaMismatch, describe_tables
from app.checks.clickhouse.sql import TableRef
from app.clients.clickhouse import ClickHouseClient
from app.model import Observation, Outcome


async def run(ctx: CheckContext[ClickHouseComponent, ClickHouseRollup, ClickHouseClient, NoMemo]) -> Outcome:
    options = ctx.options
    levels = options.levels
    refs = [TableRef.parse(level.table, ctx.component.database) for level in levels]
    now, columns = await describe_tables(
        ctx, [(ref, level.time_column, ()) for ref, level in zip(refs, levels, strict=True)]
    )
    compared = chain.pairs(options, now)
    names = list(levels[0].measures)
    observed: list[Observation] = []
    rows: list[Rows] = []
    for index, (level, ref) in enumerate(zip(levels, refs, strict=True)):
        tc = columns[(ref, level.time_column)]
        grouping = options.grouping(index)
        if tc.is_date and grouping % 86400:
            raise SchemaMismatch(f"level {level.name}: {ref}.{tc.name} is a Date, its bucket must be whole days")
        start, end = chain.level_span(compared, index)
        level_sql = sql.level_query(ref, tc, grouping, [level.measures[m] for m in names], start, end)
        result = await run_query(ctx, level_sql, level.name, f"rollup query on level {level.name} ({ref})")
        observed += cost(level.name, result)
        rows.append({int(row[0]): tuple(row[1:]) for row in result.rows})
    return chain.judge(options, compared, rows, observed)
