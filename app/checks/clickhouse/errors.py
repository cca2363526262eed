"""The `clickhouse` type's wording of the errors its checks let out; the scheduler puts it in the failed result.

The client words its own errors (it maps asynch's where it catches them); the checks add NoTimeLeft,
PreviousQueryRunning, SchemaMismatch and ClusterNotFound.
"""

from __future__ import annotations

from app.checks.clickhouse.hosts import ClusterNotFound
from app.checks.clickhouse.query import NoTimeLeft, PreviousQueryRunning
from app.checks.clickhouse.schema import SchemaMismatch
from app.clients.clickhouse_errors import ClickHouseError
from app.clients.errors import PoolExhausted


def describe_error(exc: BaseException) -> str | None:
    """The output of a check that raised `exc`, or None for an error that is a bug in Vigil."""
    if isinstance(
        exc, ClickHouseError | PoolExhausted | NoTimeLeft | PreviousQueryRunning | SchemaMismatch | ClusterNotFound
    ):
        return str(exc)
    return None
