"""What the server says about the tables a check reads: the time columns' types and zones, the server's clock and
its time zone, and from those the zone a check buckets by.

A missing table or column, or a time column that is neither DateTime nor Date, is a SchemaMismatch naming it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from app.checks.clickhouse import buckets
from app.checks.clickhouse.buckets import UnknownZone
from app.checks.clickhouse.query import Context, OptionsT, run_query
from app.checks.clickhouse.sql import TableRef, TimeColumn, schema_query

# `DateTime`, `DateTime('Europe/Berlin')` (quotes escaped in some outputs), optionally inside Nullable(...)
_DATETIME = re.compile(r"^DateTime(?:\(\\?'(?P<zone>[^'\\]+)\\?'\))?$")

Wanted = tuple[TableRef, str, Sequence[str]]  # a table, its time column, other columns it must have


class SchemaMismatch(Exception):
    """The configured table or column does not exist or has an unsupported type."""


@dataclass(frozen=True, slots=True)
class Tables:
    """The schema query's answer: the server's clock and zone, and each wanted time column."""

    now: int  # epoch seconds, the server's clock
    timezone: str  # the server's timezone()
    columns: dict[tuple[TableRef, str], TimeColumn]


async def describe_tables(ctx: Context[OptionsT], wanted: Sequence[Wanted]) -> Tables:
    """The server's clock and zone and each wanted time column, from one small query on system.columns."""
    result = await run_query(ctx, schema_query(ref for ref, _, _ in wanted), "schema", "schema query on system.columns")
    if not result.rows:
        raise SchemaMismatch(f"table {wanted[0][0]} not found")
    first = result.rows[0]
    return Tables(int(first[0]), str(first[1]), time_columns([row[2:] for row in result.rows], wanted))


def bucketing_zone(override: str | None, columns: Sequence[TimeColumn], server: str) -> ZoneInfo:
    """The zone a check buckets by: its `timezone` option, else the first time column that declares one
    (`DateTime('Europe/Berlin')`), else the server's timezone(). A zone Vigil does not know is a SchemaMismatch."""
    if override is not None:
        return buckets.zone(override)  # validated with the config
    for column in columns:
        if column.declared:
            return _known(column.declared, f"the zone of column {column.name}")
    return _known(server, "the server's time zone")


def _known(name: str, what: str) -> ZoneInfo:
    try:
        return buckets.zone(name)
    except UnknownZone:
        raise SchemaMismatch(
            f"{what}, {name!r}, is not in Vigil's time zone database; set the check's timezone option"
        ) from None


def time_columns(rows: Sequence[Sequence[Any]], wanted: Sequence[Wanted]) -> dict[tuple[TableRef, str], TimeColumn]:
    """The schema query's columns (database, table, column, type) -> each wanted time column, checked."""
    columns = {(str(db), str(tb), str(name)): str(ctype) for db, tb, name, ctype in rows}
    tables = {(db, tb) for db, tb, _ in columns}
    found: dict[tuple[TableRef, str], TimeColumn] = {}
    for ref, time_column, others in wanted:
        if (ref.database, ref.table) not in tables:
            raise SchemaMismatch(f"table {ref} not found")
        for column in [time_column, *others]:
            if (ref.database, ref.table, column) not in columns:
                raise SchemaMismatch(f"table {ref} has no column {column}")
        ctype = columns[(ref.database, ref.table, time_column)]
        base = ctype.removeprefix("Nullable(").removesuffix(")") if ctype.startswith("Nullable(") else ctype
        if match := _DATETIME.match(base):
            found[(ref, time_column)] = TimeColumn(time_column, is_date=False, declared=match.group("zone"))
        elif base == "Date":
            found[(ref, time_column)] = TimeColumn(time_column, is_date=True)
        else:
            raise SchemaMismatch(f"column {ref}.{time_column} is {ctype}, expected DateTime or Date")
    return found
