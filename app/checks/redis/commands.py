"""The commands the `redis` checks send, built as plain lists: INFO sections, the canary round trip, key batches.

Pure: no I/O here, so what Vigil asks of a Redis (and what it writes: only canaries, always with a TTL) reads in
one place.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.model import CheckId

Command = tuple[str | int | bytes, ...]


def canary_key(prefix: str, check_id: CheckId, name: str) -> str:
    """Vigil's own keys: under the component's `key_prefix`, one set per component and check."""
    return f"{prefix}{check_id.component}:{check_id.check}:{name}"


def info_sections(*sections: str) -> list[Command]:
    """One INFO per section, which every Redis version accepts (several sections in one INFO came with 7.0)."""
    return [("INFO", section) for section in sections]


def survival_value(run_id: str, nonce: str) -> str:
    """The restart canary's value, set once when it is created: the run_id of the Redis process then (a canary
    holding the current run_id was written after the last restart) and a nonce (each creation is another canary)."""
    return f"{run_id}:{nonce}"


def canary_round_trip(
    survival_key: str, survival: str, survival_ttl: float, ttl_key: str, canary_ttl: float
) -> list[Command]:
    """Read the restart canary; create it with the value `survival` only if it is gone (NX: never rewritten, so
    every Vigil sharing it knows it by its value); refresh its TTL; read it back (whoever created it). Then write
    the TTL canary and read its PTTL back. Six commands, one round trip. Replies: the restart canary before,
    OK or None, 1, the restart canary now, OK, PTTL."""
    return [
        ("GET", survival_key),
        ("SET", survival_key, survival, "NX", "PX", milliseconds(survival_ttl)),
        ("PEXPIRE", survival_key, milliseconds(survival_ttl)),
        ("GET", survival_key),
        ("SET", ttl_key, "1", "PX", milliseconds(canary_ttl)),
        ("PTTL", ttl_key),
    ]


def pttl_batch(keys: Sequence[bytes]) -> list[Command]:
    """PTTL of each key: -2 when it is gone, -1 when it has no expiry."""
    return [("PTTL", key) for key in keys]


def exists_batch(keys: Sequence[str | bytes]) -> list[Command]:
    """EXISTS of each key (one key per command, so each reply is that key's 0 or 1). Neither EXISTS nor SCAN touch a
    key's LRU/LFU data, so looking cannot keep a key alive under an allkeys-* policy and hide a problem."""
    return [("EXISTS", key) for key in keys]


def milliseconds(seconds: float) -> int:
    return int(seconds * 1000)
