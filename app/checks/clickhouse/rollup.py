"""The `rollup` check: each level of a chain (raw -> hourly -> daily) against the one below, per closed bucket.

Each level is read once, grouped by its own bucket as the server draws it in the chain's time zone (its `timezone`,
else the first zone a level's column declares, else the server's), and rolled up further in Vigil (`chain`), so no
level is scanned more than once per run.
"""

from __future__ import annotations

from app.checks.base import CheckContext
from app.checks.clickhouse import chain, sql
from app.checks.clickhouse.buckets import Buckets
from app.checks.clickhouse.chain import Rows
from app.checks.clickhouse.config import ClickHouseComponent, ClickHouseRollup
from app.checks.clickhouse.query import QueryMemo, cost, run_query
from app.checks.clickhouse.schema import SchemaMismatch, bucketing_zone, describe_tables
from app.checks.clickhouse.sql import TableRef
from app.clients.clickhouse import ClickHouseClient
from app.model import Observation, Outcome


async def run(ctx: CheckContext[ClickHouseComponent, ClickHouseRollup, ClickHouseClient, QueryMemo]) -> Outcome:
    options = ctx.options
    levels = options.levels
    refs = [TableRef.parse(level.table, ctx.component.database) for level in levels]
    tables = await describe_tables(ctx, [(ref, level.time_column, ()) for ref, level in zip(refs, levels, strict=True)])
    columns = [tables.columns[(ref, level.time_column)] for ref, level in zip(refs, levels, strict=True)]
    tz = bucketing_zone(options.timezone, columns, tables.timezone)
    compared = chain.pairs(options, tables.now, tz)
    names = list(levels[0].measures)
    observed: list[Observation] = []
    rows: list[Rows] = []
    for index, (level, ref, tc) in enumerate(zip(levels, refs, columns, strict=True)):
        grid = Buckets(options.grouping(index), tz)
        if tc.is_date and grid.size % 86400:
            raise SchemaMismatch(f"level {level.name}: {ref}.{tc.name} is a Date, its bucket must be whole days")
        start, end = chain.level_span(compared, index)
        level_sql = sql.level_query(ref, tc, grid, [level.measures[m] for m in names], start, end)
        result = await run_query(ctx, level_sql, level.name, f"rollup query on level {level.name} ({ref})")
        observed += cost(level.name, result)
        rows.append({int(row[0]): tuple(row[1:]) for row in result.rows})
    return chain.judge(options, compared, rows, observed)
