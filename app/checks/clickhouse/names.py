"""The names the `clickhouse` config accepts: identifiers, tables, measures, observation names and time zones.

Validated here, once, so that the SQL built from them is safe; every kind's options use these types.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

from app.checks.clickhouse.buckets import zone

_IDENT = r"[A-Za-z_][A-Za-z0-9_]{0,127}"
IDENTIFIER = re.compile(rf"^{_IDENT}$")
TABLE = re.compile(rf"^(?:({_IDENT})\.)?({_IDENT})$")
MEASURE = re.compile(rf"^\s*(?:(count)\(\s*\)|(sum|min|max)\(\s*({_IDENT})\s*\))\s*$")
# Query, level and measure names become observation names (`<query>_latency`, `<level>_read_rows`), so they are
# stricter than component and check names (app.config.settings.NAME), which appear in URLs and may hold dashes.
MEASURE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def parse_measure(measure: str) -> tuple[str, str | None]:
    """`count()` -> ("count", None); `sum(value)` -> ("sum", "value"). ValueError for anything else."""
    match = MEASURE.match(measure)
    if not match:
        raise ValueError(f"{measure!r} is not a measure; use count(), sum(column), min(column) or max(column)")
    return ("count", None) if match.group(1) else (match.group(2), match.group(3))


def _identifier(value: str) -> str:
    if not IDENTIFIER.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a plain identifier (letters, digits, underscore; not starting with a digit)"
        )
    return value


def _table(value: str) -> str:
    if not TABLE.fullmatch(value):
        raise ValueError(f"{value!r} is not a table name (`table` or `database.table`, plain identifiers)")
    return value


def _measure(value: str) -> str:
    function, column = parse_measure(value)
    return f"{function}({column or ''})"


def _timezone(value: str) -> str:
    zone(value)  # UnknownZone (a ValueError) names what is wrong
    return value


def _measure_name(value: str) -> str:
    if not MEASURE_NAME.fullmatch(value):
        raise ValueError(f"{value!r}: names must match {MEASURE_NAME.pattern}")
    return value


Identifier = Annotated[str, AfterValidator(_identifier)]
TableName = Annotated[str, AfterValidator(_table)]
Measure = Annotated[str, AfterValidator(_measure)]  # normalized: `count()`, `sum(value)`
MeasureName = Annotated[str, AfterValidator(_measure_name)]
TimeZoneName = Annotated[str, AfterValidator(_timezone)]  # an IANA name: Europe/Berlin, Asia/Kolkata, UTC
