"""What the `redis` checks infer from a server between runs, without a server: restarts and counter growth.

The I/O half of app/checks/redis/server.py (INFO, maxclients, memory settings) is exercised in test_redis.py.
"""

from __future__ import annotations

import pytest

from app.checks.redis.server import ServerIdentity, as_int, as_text, counter_growth

A = ServerIdentity("a" * 40, 1000)


def test_identity_from_info() -> None:
    assert ServerIdentity.from_info({"run_id": "abc", "uptime_in_seconds": 12}) == ServerIdentity("abc", 12)
    assert ServerIdentity.from_info({}) == ServerIdentity("", None)


@pytest.mark.parametrize(
    ("previous", "now", "restarted"),
    [
        (None, A, False),  # a first run has nothing to compare with
        (A, ServerIdentity("a" * 40, 1015), False),
        (A, ServerIdentity("b" * 40, 5000), True),  # a new process, whatever its uptime
        (A, ServerIdentity("a" * 40, 3), True),  # same run_id, uptime went back (DEBUG RELOAD keeps run_id)
        (A, ServerIdentity("a" * 40, None), False),  # uptime unknown: only the run_id can tell
        (ServerIdentity("a" * 40, None), A, False),
    ],
)
def test_restart_detection(previous: ServerIdentity | None, now: ServerIdentity, restarted: bool) -> None:
    assert now.restarted_since(previous) is restarted


@pytest.mark.parametrize(
    ("previous", "value", "restarted", "growth"),
    [
        (None, 7, False, None),  # first run: no baseline
        (7, 7, False, 0),
        (7, 12, False, 5),
        (7, 3, True, 3),  # after a restart the counter began again at 0: all of it is new
        (None, 3, True, 3),  # a restart on the very first comparison
        (7, 2, False, 0),  # CONFIG RESETSTAT without a restart: never negative
        (7, None, False, None),  # the counter is gone from INFO
        (7, None, True, None),
    ],
)
def test_counter_growth(previous: int | None, value: int | None, restarted: bool, growth: int | None) -> None:
    assert counter_growth(previous, value, restarted) == growth


def test_info_values_read_defensively() -> None:
    assert as_int("12") == 12 and as_int(3) == 3 and as_int(None) is None and as_int("n/a") is None
    assert as_text(b"run\xff") == "run\ufffd" and as_text(42) == "42"
