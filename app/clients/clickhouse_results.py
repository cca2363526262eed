"""Reading one query's result from an asynch connection: the rows kept or only counted, and what the query cost."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from asynch.connection import Connection

from app.clients.clickhouse_errors import ResultTooLarge

_COUNT_BLOCK = 1024  # rows per block of a streamed result that is only counted (max_block_size)


@dataclass(frozen=True, slots=True)
class QueryResult:
    """Rows plus what the query cost: Vigil's own wall-clock timing and the server's progress counters."""

    rows: list[tuple[Any, ...]]  # empty when the caller only counted them (`keep_rows=False`)
    elapsed: float  # seconds from sending the query to the last row, measured by Vigil
    read_rows: int  # rows the server read (its Progress packets)
    read_bytes: int  # uncompressed bytes the server read
    result_rows: int = 0  # rows the query returned, kept or not


async def read_result(
    conn: Connection, sql: str, settings: dict[str, Any], query_id: str, keep_rows: bool, label: str
) -> QueryResult:
    """Send `sql` on `conn` and read its result: kept whole, or (`keep_rows=False`) streamed in small blocks and only
    counted, stopped past the `max_result_bytes` setting, which ClickHouse 18.16 accepts but does not enforce."""
    started = time.perf_counter()
    rows: list[tuple[Any, ...]] = []
    count = 0
    async with conn.cursor() as cursor:
        cursor.set_settings(dict(settings))  # type: ignore[no-untyped-call]
        cursor.set_query_id(query_id)  # type: ignore[no-untyped-call]
        if keep_rows:
            await cursor.execute(sql)
            rows = list(await cursor.fetchall())
            count = len(rows)
        else:
            limit = int(settings.get("max_result_bytes") or 0)
            cursor.set_stream_results(True, _COUNT_BLOCK)  # type: ignore[no-untyped-call]
            await cursor.execute(sql)
            size = 0
            while batch := await cursor.fetchmany(_COUNT_BLOCK):
                count += len(batch)
                size += sum(_width(value) for row in batch for value in row)
                if limit and size > limit:
                    raise ResultTooLarge(label, limit)
    elapsed = time.perf_counter() - started
    progress = getattr(conn.last_query, "progress", None)
    return QueryResult(
        rows=rows,
        elapsed=elapsed,
        read_rows=int(getattr(progress, "rows", 0) or 0),
        read_bytes=int(getattr(progress, "bytes", 0) or 0),
        result_rows=count,
    )


def _width(value: Any) -> int:
    """About how many bytes a value of a result takes on the wire (strings by length, numbers and dates as 8)."""
    return len(value) if isinstance(value, str | bytes) else 8
