"""The wording of every error a `clickhouse` check can end with: the client's, mapped from asynch's where caught,
and the checks' own. The real server tests (test_clickhouse.py) show which situation produces which."""

from __future__ import annotations

import socket

import pytest
from asynch.errors import NetworkError, OperationalError, ServerException

from app.checks.clickhouse.errors import describe_error
from app.checks.clickhouse.query import NoTimeLeft
from app.checks.clickhouse.schema import SchemaMismatch
from app.clients.clickhouse_errors import (
    ConnectionLost,
    QueryTimeout,
    ServerError,
    Unreachable,
    lost_reason,
    server_error_text,
    unreachable_reason,
)
from app.clients.errors import PoolExhausted


def network_error(cause: BaseException) -> NetworkError:
    try:
        raise NetworkError("All hosts are unreachable: 127.0.0.1:9000") from cause
    except NetworkError as exc:
        return exc


@pytest.mark.parametrize(
    ("cause", "reason"),
    [
        (ConnectionRefusedError(111, "Connect call failed"), "connection refused"),
        (TimeoutError(), "no answer within the 500 ms connect timeout"),
        (socket.gaierror(-2, "Name or service not known"), "host name not resolved"),
        (OSError(113, "No route to host"), "no route to host"),
    ],
)
def test_a_connection_that_cannot_be_made_is_worded_by_its_cause(cause: BaseException, reason: str) -> None:
    assert unreachable_reason(network_error(cause), 0.5) == reason
    assert str(Unreachable("127.0.0.1:9000", reason)) == f"cannot reach ClickHouse at 127.0.0.1:9000: {reason}"


def test_a_connection_closed_during_the_handshake_cannot_be_made_either() -> None:
    eof = OperationalError("Failed to read data from socket. Likely the connection was closed by the remote.")
    assert unreachable_reason(eof, 0.5) == "connection closed during the handshake"


def test_a_connection_lost_mid_query_is_worded_by_whether_the_server_went_silent_or_away() -> None:
    assert lost_reason(TimeoutError(), 1.0) == "no data within the 1 s socket timeout"
    for gone in (
        OperationalError("Failed to read data from socket."),
        EOFError(),
        ConnectionResetError(),
        BrokenPipeError(),
    ):
        assert lost_reason(gone, 1.0) == "connection closed"
    lost = ConnectionLost("query heavy", "127.0.0.1:9000", "connection closed")
    assert str(lost) == "lost ClickHouse at 127.0.0.1:9000 during query heavy: connection closed"


def test_a_query_cut_at_the_deadline_is_worded_once() -> None:
    assert str(QueryTimeout("SELECT 1", 1.4, 1.4)) == "SELECT 1 cancelled at the check's deadline after 1.4 s"
    assert str(QueryTimeout("query a", 0.7012, 0.7, own_timeout=True)) == "query a cancelled at its 700 ms timeout"
    assert QueryTimeout("query a", 0.7012, 0.7).elapsed == 0.7012


def test_server_errors_keep_the_message_on_one_line() -> None:
    exc = ServerException("DB::Exception: Cannot drop table\nin readonly mode", 164)
    assert server_error_text(exc) == "Cannot drop table in readonly mode"
    assert str(ServerError(164, server_error_text(exc))) == "ClickHouse error 164: Cannot drop table in readonly mode"


def test_describe_error_words_every_known_error_and_leaves_bugs_to_the_scheduler() -> None:
    known = [
        Unreachable("127.0.0.1:9000", "connection refused"),
        ConnectionLost("SELECT 1", "127.0.0.1:9000", "connection closed"),
        QueryTimeout("SELECT 1", 1.4, 1.4),
        ServerError(60, "Table db.nope doesn't exist."),
        PoolExhausted("pool exhausted: all 4 of Vigil's connections busy for 500ms"),
        NoTimeLeft("schema query on system.columns"),
        SchemaMismatch("table db.nope not found"),
    ]
    assert [describe_error(exc) for exc in known] == [
        "cannot reach ClickHouse at 127.0.0.1:9000: connection refused",
        "lost ClickHouse at 127.0.0.1:9000 during SELECT 1: connection closed",
        "SELECT 1 cancelled at the check's deadline after 1.4 s",
        "ClickHouse error 60: Table db.nope doesn't exist.",
        "pool exhausted: all 4 of Vigil's connections busy for 500ms",
        "schema query on system.columns not run: no time left before the check's deadline",
        "table db.nope not found",
    ]
    assert describe_error(KeyError("x")) is None
    assert describe_error(ServerException("raw", 1)) is None  # asynch's own never reaches a check: the client maps it
