"""The `timeseries` check: freshness, future rows, impossible past, gaps and duplicates of one table, in a window.

Three bounded queries (stats, per-bucket counts, duplicated keys) after the schema query, and a fourth, stopping at
one row, only when gaps precede the window's oldest row (is the table younger than the window?); `window` judges.
Buckets are drawn in the check's time zone (its `timezone`, else the column's own, else the server's).
"""

from __future__ import annotations

from app.checks.base import CheckContext
from app.checks.clickhouse import sql, window
from app.checks.clickhouse.config import ClickHouseComponent, ClickHouseTimeseries
from app.checks.clickhouse.query import QueryMemo, cost, run_query
from app.checks.clickhouse.schema import SchemaMismatch, bucketing_zone, describe_tables
from app.checks.clickhouse.sql import TableRef
from app.checks.clickhouse.window import Duplicates, Window, WindowStats
from app.clients.clickhouse import ClickHouseClient
from app.model import Observation, Outcome


async def run(ctx: CheckContext[ClickHouseComponent, ClickHouseTimeseries, ClickHouseClient, QueryMemo]) -> Outcome:
    options = ctx.options
    ref = TableRef.parse(options.table, ctx.component.database)
    tables = await describe_tables(ctx, [(ref, options.time_column, options.keys)])
    tc = tables.columns[(ref, options.time_column)]
    if tc.is_date and options.bucket % 86400:
        raise SchemaMismatch(f"column {ref}.{tc.name} is a Date: bucket must be whole days")
    bounds = Window.at(tables.now, options, bucketing_zone(options.timezone, [tc], tables.timezone))
    zone = bounds.grid.zone_name
    observed: list[Observation] = []

    stats_sql = sql.stats_query(ref, tc, zone, bounds.start, bounds.future, bounds.floor)
    result = await run_query(ctx, stats_sql, "stats", f"timeseries stats query on {ref}")
    observed += cost("stats", result)
    stats = WindowStats(*(int(v) for v in result.rows[0]))

    counts = None
    young = False
    if options.min_bucket_rows:
        buckets_sql = sql.buckets_query(ref, tc, bounds.grid, bounds.first, bounds.end)
        result = await run_query(ctx, buckets_sql, "buckets", f"timeseries bucket query on {ref}")
        observed += cost("buckets", result)
        counts = {int(b): int(c) for b, c in result.rows}
        if window.leading_gaps(bounds, counts, options.min_bucket_rows, stats):
            history_sql = sql.history_query(ref, tc, zone, bounds.floor, bounds.start)
            result = await run_query(ctx, history_sql, "history", f"timeseries history query on {ref}")
            observed += cost("history", result)
            young = int(result.rows[0][0]) == 0

    duplicates = None
    if options.keys:
        duplicates_sql = sql.duplicates_query(ref, tc, zone, options.keys, bounds.start, bounds.future)
        result = await run_query(ctx, duplicates_sql, "duplicates", f"timeseries duplicates query on {ref}")
        observed += cost("duplicates", result)
        keys, extra, worst, worst_key = result.rows[0]
        duplicates = Duplicates(int(keys), int(extra or 0), int(worst or 0), str(worst_key))

    return window.judge(options, bounds, stats, counts, duplicates, observed, young=young)
