"""Every SQL string the `clickhouse` checks send, built by pure functions from validated config and epoch seconds.

Identifiers are quoted with backticks (config allows only plain ones); time ranges are written against the column
itself, not a function of it, so the primary key and partition pruning still apply.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.checks.clickhouse import buckets
from app.checks.clickhouse.buckets import UTC_NAMES, Buckets
from app.checks.clickhouse.config import ClickHouseComponent
from app.checks.clickhouse.names import TABLE, parse_measure
from app.clients.clickhouse import quote

CONNECTIVITY = "SELECT 1, version(), uptime()"


def safety_settings(component: ClickHouseComponent, budget: float) -> dict[str, Any]:
    """Settings every Vigil query runs under: read-only, and bounded in time, memory and result size.

    max_execution_time is whole seconds, rounded up and one more: the server's own backstop sits just past
    Vigil's deadline, so the normal path is Vigil cancelling the query, which names it in the output.
    """
    settings: dict[str, Any] = {
        "readonly": 1,
        "max_execution_time": math.ceil(budget) + 1,
        "max_result_rows": component.max_result_rows,
        "max_result_bytes": component.max_result_bytes,
        "result_overflow_mode": "throw",  # a result past the limits is refused, never silently cut short
    }
    if component.max_memory_usage:
        settings["max_memory_usage"] = component.max_memory_usage
    return settings


@dataclass(frozen=True, slots=True)
class TableRef:
    database: str
    table: str

    @classmethod
    def parse(cls, name: str, default_database: str) -> TableRef:
        match = TABLE.fullmatch(name)
        assert match is not None  # validated with the config
        return cls(match.group(1) or default_database, match.group(2))

    @property
    def sql(self) -> str:
        return f"`{self.database}`.`{self.table}`"

    def __str__(self) -> str:
        return f"{self.database}.{self.table}"


@dataclass(frozen=True, slots=True)
class TimeColumn:
    """A DateTime or Date column, as SQL in a bucketing zone: its value in epoch seconds, bucket starts, and range
    predicates on the column itself (so they keep index use). A Date is a local calendar day of that zone.

    `declared` is the zone in the column's type (`DateTime('Europe/Berlin')`), if any.
    """

    name: str
    is_date: bool
    declared: str | None = None

    @property
    def sql(self) -> str:
        return f"`{self.name}`"

    def seconds(self, zone: str = "UTC") -> str:
        """The column as epoch seconds (a Date: the first instant of that day in `zone`)."""
        if not self.is_date:
            return f"toUInt32({self.sql})"
        if zone in UTC_NAMES:
            return f"(toUInt32({self.sql}) * 86400)"
        return f"toUInt32(toDateTime({self.sql}, {quote(zone)}))"

    def literal(self, epoch: int, zone: str = "UTC") -> str:
        if self.is_date:
            day = datetime.fromtimestamp(epoch, buckets.zone(zone)).strftime("%Y-%m-%d")
            return f"toDate({quote(day)})"
        return f"toDateTime({max(0, int(epoch))})"

    def between(self, start: int, end: int, zone: str = "UTC") -> str:
        """start <= t < end."""
        return f"{self.sql} >= {self.literal(start, zone)} AND {self.sql} < {self.literal(end, zone)}"

    def bucket(self, grid: Buckets) -> str:
        """The start of each row's bucket, epoch seconds, computed by the server as `grid` draws buckets: its own
        toStartOfHour / toStartOfDay where one fits, else counted from local midnight or local day numbers."""
        size, zone = grid.size, quote(grid.zone_name)
        if grid.utc or not grid.nests_in_days:
            return f"intDiv({self.seconds(grid.zone_name)}, {size}) * {size}"
        moment = f"toDateTime({self.sql}, {zone})" if self.is_date else self.sql
        if grid.days == 1:
            return self.seconds(grid.zone_name) if self.is_date else f"toUInt32(toStartOfDay({moment}, {zone}))"
        if grid.days:
            day = f"toDate(intDiv(toRelativeDayNum({moment}, {zone}), {grid.days}) * {grid.days})"
            return f"toUInt32(toDateTime({day}, {zone}))"
        if size == 3600:
            return f"toUInt32(toStartOfHour({moment}, {zone}))"
        midnight = f"toUInt32(toStartOfDay({moment}, {zone}))"
        return f"{midnight} + intDiv(toUInt32({moment}) - {midnight}, {size}) * {size}"


def schema_query(refs: Iterable[TableRef]) -> str:
    """The server's clock and time zone, and every column of the given tables with its type (one row per column)."""
    refs = list(refs)
    databases = ", ".join(map(quote, sorted({ref.database for ref in refs})))
    tables = ", ".join(map(quote, sorted({ref.table for ref in refs})))
    return (
        "SELECT toUInt32(now()), timezone(), database, table, name, type FROM system.columns "
        f"WHERE database IN ({databases}) AND table IN ({tables})"
    )


def stats_query(ref: TableRef, tc: TimeColumn, zone: str, start: int, future: int, floor: int) -> str:
    """One row: future rows and the latest of them, rows before the floor and the earliest, window rows, the newest
    and the oldest of them.

    The out-of-window parts are range predicates on the time column, answered from the index when it leads the key.
    """
    t = tc.seconds(zone)
    in_window = f"{t} >= {start} AND {t} <= {future}"
    return (
        f"SELECT countIf({t} > {future}), maxIf({t}, {t} > {future}), "
        f"countIf({t} < {floor}), minIf({t}, {t} < {floor}), "
        f"countIf({in_window}), maxIf({t}, {in_window}), minIf({t}, {in_window}) "
        f"FROM {ref.sql} WHERE {tc.sql} > {tc.literal(future, zone)} OR {tc.sql} < {tc.literal(floor, zone)} "
        f"OR {tc.sql} >= {tc.literal(start, zone)}"
    )


def history_query(ref: TableRef, tc: TimeColumn, zone: str, floor: int, start: int) -> str:
    """One row: 1 when the table has a row in [floor, start) (it is older than the window), else 0.

    Stops at the first row found: a range on the time column, so only the first granules in it are read.
    """
    return f"SELECT count() FROM (SELECT 1 FROM {ref.sql} WHERE {tc.between(floor, start, zone)} LIMIT 1)"


def buckets_query(ref: TableRef, tc: TimeColumn, grid: Buckets, first: int, end: int) -> str:
    """(bucket start, rows) for every non-empty bucket in [first, end)."""
    return (
        f"SELECT {tc.bucket(grid)} AS b, count() FROM {ref.sql} "
        f"WHERE {tc.between(first, end, grid.zone_name)} GROUP BY b"
    )


def duplicates_query(ref: TableRef, tc: TimeColumn, zone: str, keys: list[str], start: int, future: int) -> str:
    """One row: keys seen more than once, the extra rows, the worst key's count and the worst key (as text)."""
    columns = ", ".join(f"`{k}`" for k in keys)
    if len(keys) == 1:
        example = f"toString(`{keys[0]}`)"
    else:
        example = "concat(" + ", ', ', ".join(f"toString(`{k}`)" for k in keys) + ")"
    return (
        f"SELECT count(), sum(c) - count(), max(c), argMax({example}, c) FROM "
        f"(SELECT {columns}, count() AS c FROM {ref.sql} WHERE {tc.sql} >= {tc.literal(start, zone)} "
        f"AND {tc.sql} <= {tc.literal(future, zone)} GROUP BY {columns} HAVING c > 1)"
    )


def measure_sql(measure: str) -> str:
    """A validated measure with its column quoted: `sum(value)` -> sum(`value`)."""
    function, column = parse_measure(measure)
    return f"{function}(`{column}`)" if column else f"{function}()"


def level_query(ref: TableRef, tc: TimeColumn, grid: Buckets, measures: list[str], start: int, end: int) -> str:
    """(bucket start, measure...) for every non-empty bucket of one rollup level in [start, end)."""
    selects = ", ".join(measure_sql(m) for m in measures)
    return (
        f"SELECT {tc.bucket(grid)} AS b, {selects} FROM {ref.sql} "
        f"WHERE {tc.between(start, end, grid.zone_name)} GROUP BY b"
    )


def running_query(query_ids: Iterable[str]) -> str:
    """(query id, seconds it has run) for those of the given queries the server is still running."""
    ids = ", ".join(map(quote, sorted(query_ids)))
    return f"SELECT query_id, elapsed FROM system.processes WHERE query_id IN ({ids})"


def replicas_query(tables: Iterable[TableRef], database: str) -> str:
    """One row per replicated table (the named ones, else every one of `database`), from what the server knows
    itself: read-only, session expired, queue size, inserts in it, its oldest entry (0: none), delay, the clock.

    The columns that ask ZooKeeper (`replicas_counts_query`) are not read here: with ZooKeeper gone they fail."""
    tables = list(tables)
    if tables:
        pairs = ", ".join(f"({quote(ref.database)}, {quote(ref.table)})" for ref in tables)
        where = f"(database, table) IN ({pairs})"
    else:
        where = f"database = {quote(database)}"
    return (
        "SELECT database, table, is_readonly, is_session_expired, queue_size, inserts_in_queue, "
        "toUInt32(queue_oldest_time), absolute_delay, toUInt32(now()) "
        f"FROM system.replicas WHERE {where} ORDER BY database, table"
    )


def replicas_counts_query(tables: Iterable[TableRef]) -> str:
    """(database, table, total replicas, active replicas) of the given tables: read from ZooKeeper by the server."""
    pairs = ", ".join(f"({quote(ref.database)}, {quote(ref.table)})" for ref in tables)
    return (
        "SELECT database, table, total_replicas, active_replicas FROM system.replicas "
        f"WHERE (database, table) IN ({pairs})"
    )


def has_column_query(table: TableRef, column: str) -> str:
    """One row when `table` has `column` (system tables differ between versions: errors_count is not in 18.16)."""
    return (
        f"SELECT name FROM system.columns WHERE database = {quote(table.database)} AND table = {quote(table.table)} "
        f"AND name = {quote(column)}"
    )


def clusters_query(errors_count: bool) -> str:
    """Every host of every cluster this server knows (a small table): cluster, shard, replica, host, port, errors."""
    errors = "errors_count" if errors_count else "toUInt64(0)"
    return (
        f"SELECT cluster, shard_num, replica_num, host_name, port, {errors} FROM system.clusters "
        "ORDER BY cluster, shard_num, replica_num"
    )
