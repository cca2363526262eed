"""The `timeseries` check: freshness, future rows, impossible past, gaps and duplicates of one table, in a window.

Three bounded queries (stats, per-bucket counts, duplicated keys) after the schema query; `window` judges the numbers.
"""

from __future__ import annotations

from app.checks.base import CheckContext, NoMemo
from app.checks.clickhouse import sql, window
from app.checks.clickhouse.config import ClickHouseComponent, ClickHouseTimeseries
from app.checks.clickhouse.query import cost, run_query
from app.checks.clickhouse.schema import SchemaMismatch, describe_tables
from app.checks.clickhouse.sql import TableRef
from app.checks.clickhouse.window import Duplicates, Window, WindowStats
from app.clients.clickhouse import ClickHouseClient
from app.model import Observation, Outcome


async def run(ctx: CheckContext[ClickHouseComponent, ClickHouseTimeseries, ClickHouseClient, NoMemo]) -> Outcome:
    options = ctx.options
    ref = TableRef.parse(options.table, ctx.component.database)
    now, columns = await describe_tables(ctx, [(ref, options.time_column, options.keys)])
    tc = columns[(ref, options.time_column)]
    if tc.is_date and options.bucket % 86400:
        raise SchemaMismatch(f"column {ref}.{tc.name} is a Date: bucket must be whole days")
    bounds = Window.at(now, options)
    observed: list[Observation] = []

    stats_sql = sql.stats_query(ref, tc, bounds.start, bounds.future, bounds.floor)
    result = await run_query(ctx, stats_sql, "stats", f"timeseries stats query on {ref}")
    observed += cost("stats", result)
    stats = WindowStats(*(int(v) for v in result.rows[0]))

    counts = None
    if options.min_bucket_rows:
        buckets_sql = sql.buckets_query(ref, tc, bounds.bucket, bounds.first, bounds.end)
        result = await run_query(ctx, buckets_sql, "buckets", f"timeseries bucket query on {ref}")
        observed += cost("buckets", result)
        counts = {int(b): int(c) for b, c in result.rows}

    duplicates = None
    if options.keys:
        duplicates_sql = sql.duplicates_query(ref, tc, options.keys, bounds.start, bounds.future)
        result = await run_query(ctx, duplicates_sql, "duplicates", f"timeseries duplicates query on {ref}")
        observed += cost("duplicates", result)
        keys, extra, worst, worst_key = result.rows[0]
        duplicates = Duplicates(int(keys), int(extra or 0), int(worst or 0), str(worst_key))

    return window.judge(options, bounds, stats, counts, duplicates, observed)
