"""Every SQL string the `clickhouse` checks send, built by pure functions from validated config and epoch seconds.

Identifiers are quoted with backticks (config allows only plain ones); time ranges are written against the column
itself, not a function of it, so the primary key and partition pruning still apply.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.checks.clickhouse.config import TABLE, ClickHouseComponent, parse_measure
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
        match = TABLE.match(name)
        assert match is not None  # validated with the config
        return cls(match.group(1) or default_database, match.group(2))

    @property
    def sql(self) -> str:
        return f"`{self.database}`.`{self.table}`"

    def __str__(self) -> str:
        return f"{self.database}.{self.table}"


@dataclass(frozen=True, slots=True)
class TimeColumn:
    """A DateTime or Date column, as SQL: its value in epoch seconds and range predicates that keep index use."""

    name: str
    is_date: bool

    @property
    def sql(self) -> str:
        return f"`{self.name}`"

    @property
    def seconds(self) -> str:
        return f"(toUInt32({self.sql}) * 86400)" if self.is_date else f"toUInt32({self.sql})"

    def literal(self, epoch: int) -> str:
        if self.is_date:
            return f"toDate({quote(datetime.fromtimestamp(epoch, UTC).strftime('%Y-%m-%d'))})"
        return f"toDateTime({max(0, int(epoch))})"

    def between(self, start: int, end: int) -> str:
        """start <= t < end."""
        return f"{self.sql} >= {self.literal(start)} AND {self.sql} < {self.literal(end)}"


def schema_query(refs: Iterable[TableRef]) -> str:
    """The server's clock, and every column of the given tables with its type (one row per column)."""
    refs = list(refs)
    databases = ", ".join(map(quote, sorted({ref.database for ref in refs})))
    tables = ", ".join(map(quote, sorted({ref.table for ref in refs})))
    return (
        "SELECT toUInt32(now()), database, table, name, type FROM system.columns "
        f"WHERE database IN ({databases}) AND table IN ({tables})"
    )


def stats_query(ref: TableRef, tc: TimeColumn, start: int, future: int, floor: int) -> str:
    """One row: future rows and the latest of them, rows before the floor and the earliest, window rows and newest.

    The out-of-window parts are range predicates on the time column, answered from the index when it leads the key.
    """
    t = tc.seconds
    in_window = f"{t} >= {start} AND {t} <= {future}"
    return (
        f"SELECT countIf({t} > {future}), maxIf({t}, {t} > {future}), "
        f"countIf({t} < {floor}), minIf({t}, {t} < {floor}), "
        f"countIf({in_window}), maxIf({t}, {in_window}) "
        f"FROM {ref.sql} WHERE {tc.sql} > {tc.literal(future)} OR {tc.sql} < {tc.literal(floor)} "
        f"OR {tc.sql} >= {tc.literal(start)}"
    )


def buckets_query(ref: TableRef, tc: TimeColumn, bucket: int, first: int, end: int) -> str:
    """(bucket start, rows) for every non-empty bucket in [first, end)."""
    return (
        f"SELECT intDiv({tc.seconds}, {bucket}) * {bucket} AS b, count() FROM {ref.sql} "
        f"WHERE {tc.between(first, end)} GROUP BY b"
    )


def duplicates_query(ref: TableRef, tc: TimeColumn, keys: list[str], start: int, future: int) -> str:
    """One row: keys seen more than once, the extra rows, the worst key's count and the worst key (as text)."""
    columns = ", ".join(f"`{k}`" for k in keys)
    if len(keys) == 1:
        example = f"toString(`{keys[0]}`)"
    else:
        example = "concat(" + ", ', ', ".join(f"toString(`{k}`)" for k in keys) + ")"
    return (
        f"SELECT count(), sum(c) - count(), max(c), argMax({example}, c) FROM "
        f"(SELECT {columns}, count() AS c FROM {ref.sql} WHERE {tc.sql} >= {tc.literal(start)} "
        f"AND {tc.sql} <= {tc.literal(future)} GROUP BY {columns} HAVING c > 1)"
    )


def measure_sql(measure: str) -> str:
    """A validated measure with its column quoted: `sum(value)` -> sum(`value`)."""
    function, column = parse_measure(measure)
    return f"{function}(`{column}`)" if column else f"{function}()"


def level_query(ref: TableRef, tc: TimeColumn, grouping: int, measures: list[str], start: int, end: int) -> str:
    """(bucket start, measure...) for every non-empty bucket of one rollup level in [start, end)."""
    selects = ", ".join(measure_sql(m) for m in measures)
    return (
        f"SELECT intDiv({tc.seconds}, {grouping}) * {grouping} AS b, {selects} FROM {ref.sql} "
        f"WHERE {tc.between(start, end)} GROUP BY b"
    )
