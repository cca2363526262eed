"""What the `redis` checks send to a server and what they write there (only canaries, each with a TTL)."""

from __future__ import annotations

from app.checks.redis.commands import (
    canary_key,
    canary_round_trip,
    exists_batch,
    info_sections,
    pttl_batch,
    survival_value,
)
from app.model import CheckId


def test_canary_keys_live_under_the_prefix() -> None:
    assert canary_key("vigil:", CheckId("cache", "sessions"), "ttl") == "vigil:cache:sessions:ttl"


def test_every_write_has_a_ttl() -> None:
    commands = canary_round_trip("k:survival", "run-id:n0nce", 86400.0, "k:ttl", 60.0)
    assert commands == [
        ("GET", "k:survival"),
        ("SET", "k:survival", "run-id:n0nce", "NX", "PX", 86_400_000),  # created only when gone, never rewritten
        ("PEXPIRE", "k:survival", 86_400_000),
        ("GET", "k:survival"),  # whoever created it: the value this Vigil knows it by
        ("SET", "k:ttl", "1", "PX", 60_000),
        ("PTTL", "k:ttl"),
    ]
    assert all(command[-2] == "PX" for command in commands if command[0] == "SET")


def test_restart_canary_value_records_the_run_id() -> None:
    assert survival_value("a" * 40, "0f1e2d3c") == f"{'a' * 40}:0f1e2d3c"


def test_batches_are_one_command_per_key() -> None:
    assert info_sections("memory", "stats") == [("INFO", "memory"), ("INFO", "stats")]
    assert pttl_batch([b"a", b"b"]) == [("PTTL", b"a"), ("PTTL", b"b")]
    assert exists_batch(["flags", b"ratelimit:api"]) == [("EXISTS", "flags"), ("EXISTS", b"ratelimit:api")]
