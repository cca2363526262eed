"""What the server says about the tables a check reads: the time columns' types, and the server's own clock.

A missing table or column, or a time column that is neither DateTime nor Date, is a SchemaMismatch naming it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.checks.clickhouse.query import Context, run_query
from app.checks.clickhouse.sql import TableRef, TimeColumn, schema_query

Wanted = tuple[TableRef, str, Sequence[str]]  # a table, its time column, other columns it must have


class SchemaMismatch(Exception):
    """The configured table or column does not exist or has an unsupported type."""


async def describe_tables(ctx: Context, wanted: Sequence[Wanted]) -> tuple[int, dict[tuple[TableRef, str], TimeColumn]]:
    """The server's clock (epoch seconds) and each wanted time column, from one small query on system.columns."""
    result = await run_query(ctx, schema_query(ref for ref, _, _ in wanted), "schema", "schema query on system.columns")
    if not result.rows:
        raise SchemaMismatch(f"table {wanted[0][0]} not found")
    return int(result.rows[0][0]), time_columns(result.rows, wanted)


def time_columns(rows: Sequence[Sequence[Any]], wanted: Sequence[Wanted]) -> dict[tuple[TableRef, str], TimeColumn]:
    """The schema query's rows (now, database, table, column, type) -> each wanted time column, checked."""
    columns = {(str(db), str(tb), str(name)): str(ctype) for _, db, tb, name, ctype in rows}
    tables = {(db, tb) for db, tb, _ in columns}
    found: dict[tuple[TableRef, str], TimeColumn] = {}
    for ref, time_column, others in wanted:
        if (ref.database, ref.table) not in tables:
            raise SchemaMismatch(f"table {ref} not found")
        for column in [time_column, *others]:
            if (ref.database, ref.table, column) not in columns:
                raise SchemaMismatch(f"table {ref} has no column {column}")
        ctype = columns[(ref.database, ref.table, time_column)]
        base = ctype.removeprefix("Nullable(").removesuffix(")")
        if base.startswith("DateTime"):
            found[(ref, time_column)] = TimeColumn(time_column, is_date=False)
        elif base == "Date":
            found[(ref, time_column)] = TimeColumn(time_column, is_date=True)
        else:
            raise SchemaMismatch(f"column {ref}.{time_column} is {ctype}, expected DateTime or Date")
    return found
