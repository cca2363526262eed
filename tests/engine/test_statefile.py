"""The state file in process: the codec's round trip, what a restore puts back (and what it refuses), writes.

Stores are built from real settings; nothing runs a check here (the real `vigil serve` tests are in
tests/test_statefile_serve.py).
"""

from __future__ import annotations

import json
import logging
import os
import time
import zlib
from dataclasses import replace
from pathlib import Path
from typing import Any

from app.config.settings import Settings
from app.engine.forecast import SLOTS
from app.engine.saved import export
from app.engine.statecodec import decode, encode, limit_for
from app.engine.statefile import StateFile, fingerprint
from app.engine.store import Store, Transition
from app.main import build_engine
from app.masking import Scrubber
from app.model import CheckId, CheckResult, Limit, Observation, Status
from tests.conftest import make_settings, redis_component

SECRET = "hunter2-hunter2"
P, W, F = Status.PASS, Status.WARN, Status.FAIL


def settings_for(path: Path, *, instance: str = "vigil-0", failure_threshold: int = 3, **extra: Any) -> Settings:
    return make_settings(
        defaults={"interval": "10s", "timeout": "2s", "failure_threshold": failure_threshold},
        state={"path": str(path), "instance": instance},
        components={
            "cache": redis_component(
                f"redis://app:{SECRET}@127.0.0.1:1/0",
                checks={"ping": {"kind": "connectivity"}, "memory": {"kind": "memory"}},
            ),
            "queue": redis_component("redis://127.0.0.1:1/1"),
        },
        **extra,
    )


def engine(settings: Settings) -> tuple[Store, StateFile]:
    store, scheduler = build_engine(settings)
    return store, StateFile(settings, store, scheduler.specs)


def result(
    check: str, status: Status, at: float, output: str = "", observed: tuple[Observation, ...] = ()
) -> CheckResult:
    component, name = check.split(":")
    return CheckResult(component, name, "redis", status, output or status.value, observed, at, 0.004)


def masked(transition: Transition) -> Transition:
    return replace(transition, reason=transition.reason.replace(SECRET, "***"))


def busy(store: Store, now: float) -> None:
    """A day of runs with every kind of state: passing with a forecast series, failing, held back, latched."""
    memory = CheckId("cache", "memory")
    for minute in range(0, 1440, 7):
        at = now - 86400 + minute * 60
        used = Observation("used", 0.2 + minute / 10000, "ratio", Limit(0.9, "90% of maxmemory"))
        store.record(result("cache:memory", P, at, observed=(used, Observation("version", "7.0.15"))), at - now)
        store.record(result("cache:ping", F if minute % 140 == 0 else P, at), at - now)
    for check in ("cache:memory", "cache:ping"):  # recent runs: younger than stale_after
        store.record(result(check, P, now - 4), -4)
    store.record(result("queue:connectivity", F, now - 5, f"connect to redis://app:{SECRET}@x failed"), -5)
    store.record(result("cache:ping", F, now - 3), -3)  # held back: one of three failures
    assert store.states[memory].series


def test_encode_decode_round_trip(tmp_path: Path) -> None:
    store, statefile = engine(settings_for(tmp_path / "state.json"))
    now = time.time()
    busy(store, now)
    records = export(store, now, 0.0)
    header = {"instance": "vigil-0", "shard": [0, 1], "written_at": now}
    data = encode(header, [(r, statefile.fingerprints[r.check_id]) for r in records], statefile.scrubber)
    decoded = decode(data, 1440)
    assert (decoded.instance, decoded.shard, decoded.written_at) == ("vigil-0", (0, 1), now)
    assert [fp for _, fp in decoded.checks] == [statefile.fingerprints[r.check_id] for r in records]
    for before, (after, _) in zip(records, decoded.checks, strict=True):
        expected = before
        if before.state is not None and before.state.last is not None:  # the type comes back from the config
            expected = replace(before, state=replace(before.state, last=replace(before.state.last, component_type="")))
        if before.check_id == ("queue", "connectivity"):  # masked on the way out
            assert after.state is not None and after.state.last is not None
            assert after.state.last.output == "connect to redis://app:***@x failed"
            continue
        assert after == expected
    assert SECRET.encode() not in data
    assert len(data) < limit_for(3, 1440)


def test_fingerprint_follows_what_is_measured_not_secrets(tmp_path: Path) -> None:
    def prints(settings: Settings) -> dict[CheckId, str]:
        _, scheduler = build_engine(settings)
        return {spec.id: fingerprint(spec, Scrubber(settings.secret_values())) for spec in scheduler.specs}

    base = prints(settings_for(tmp_path / "s"))
    assert prints(settings_for(tmp_path / "s")) == base
    looser = prints(settings_for(tmp_path / "s", failure_threshold=5))
    assert all(looser[check] != base[check] for check in base)
    other = settings_for(tmp_path / "s").model_dump()
    other["components"]["cache"]["url"] = "redis://app:another-secret@127.0.0.1:1/0"
    assert prints(make_settings(**other)) == base  # a new password is not a new check


async def test_restore_continues_history_state_and_timeline(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    before, writer = engine(settings_for(path))
    now = time.time()
    busy(before, now)
    assert await writer.write()
    assert writer.counts.ok == 1 and oct(path.stat().st_mode & 0o777) == "0o600"

    after, reader = engine(settings_for(path))
    await reader.restore()
    for check_id, old in before.states.items():
        new = after.states[check_id]
        assert new.history.cells(now, 48) == old.history.cells(now, 48)
        assert new.history.ratios(now) == old.history.ratios(now)
        assert (new.state_name, new.consecutive_failures, new.consecutive_successes) == (
            old.state_name,
            old.consecutive_failures,
            old.consecutive_successes,
        )
        assert new.last is not None and old.last is not None and new.last.finished_at == old.last.finished_at
        assert new.last.component_type == "redis"
        assert list(new.transitions) == [masked(t) for t in old.transitions]
        assert new.unconfirmed == old.unconfirmed
    memory = after.states[CheckId("cache", "memory")]
    assert [v for _, v in memory.series["used"].series()] == [
        v for _, v in before.states[CheckId("cache", "memory")].series["used"].series()[-SLOTS:]
    ]
    assert after.recent_transitions() == [masked(t) for t in before.recent_transitions()]
    assert after.ready is before.ready is False  # queue:connectivity failed, and it stays failed
    assert not after.startup_complete  # this process has not run anything yet
    # The next run is judged against the restored counts: the second of three failures is still held back.
    after.record(result("cache:ping", F, time.time()), 1.0)
    assert after.states[CheckId("cache", "ping")].state_name == "pass"
    after.record(result("cache:ping", F, time.time()), 2.0)
    assert after.states[CheckId("cache", "ping")].state_name == "fail"


async def test_a_changed_check_keeps_its_history_not_its_state(tmp_path: Path, caplog: Any) -> None:
    path = tmp_path / "state.json"
    before, writer = engine(settings_for(path))
    now = time.time()
    busy(before, now)
    assert await writer.write()
    after, reader = engine(settings_for(path, failure_threshold=5))
    with caplog.at_level(logging.INFO, "vigil.state"):
        await reader.restore()
    ping = after.states[CheckId("cache", "ping")]
    assert ping.history.ratios(now) == before.states[CheckId("cache", "ping")].history.ratios(now)
    assert ping.transitions
    assert (ping.last, ping.state_name, ping.consecutive_failures, ping.series) == (None, "pending", 0, {})
    assert "0 checks with their state, 3 with their history only" in caplog.text


async def test_an_old_result_is_stale_at_once_and_a_removed_check_is_dropped(tmp_path: Path, caplog: Any) -> None:
    path = tmp_path / "state.json"
    before, writer = engine(settings_for(path))
    long_ago = time.time() - 3600
    for check in ("cache:ping", "cache:memory", "queue:connectivity"):
        before.record(result(check, P, long_ago), 0.0)
    assert before.ready
    assert await writer.write()
    shrunk = settings_for(path).model_dump()
    del shrunk["components"]["queue"]
    after, reader = engine(make_settings(**shrunk))
    with caplog.at_level(logging.INFO, "vigil.state"):
        await reader.restore()
    ping = after.states[CheckId("cache", "ping")]
    assert ping.stale and ping.state_name == "fail" and ping.effective_output.startswith("stale: ")
    assert not after.ready  # an hour-old pass is no reason to be ready
    assert "1 no longer configured dropped" in caplog.text
    after.record(result("cache:ping", P, time.time()), 1.0)
    assert ping.state_name == "pass" and not ping.stale


def written(path: Path, **change: Any) -> bytes:
    document = json.loads(path.read_bytes())
    document.update(change)
    return json.dumps(document).encode()


async def test_unusable_files_are_one_log_line_and_a_blank_start(tmp_path: Path, caplog: Any) -> None:
    good = tmp_path / "good.json"
    source, writer = engine(settings_for(good))
    busy(source, time.time())
    assert await writer.write()
    data = good.read_bytes()
    document = json.loads(data)
    bomb = dict(document)
    bomb["checks"] = [
        {**document["checks"][0], "history": {"newest": 1, "counts": [_deflated(10**7)] * 3}},
    ]
    cases: dict[str, tuple[bytes, str]] = {
        "truncated": (data[: len(data) // 2], "not a readable state file"),
        "garbage": (b"\x00\xff" * 100, "not a readable state file"),
        "empty": (b"", "not a readable state file"),
        "not ours": (b'{"format": "something-else", "version": 1}', "not a Vigil state file"),
        "newer": (written(good, version=2), "state format 2, this Vigil reads format 1"),
        "instance": (written(good, instance="vigil-1"), "written by instance 'vigil-1', this is 'vigil-0'"),
        "shard": (written(good, shard=[1, 3]), "written by shard 1 of 3, this is shard 0 of 1"),
        "other config": (
            written(good, checks=[{**document["checks"][0], "id": "other:check"}]),
            "from another configuration: none of its checks is configured here",
        ),
        "deep": (b"[" * 100_000 + b"]" * 100_000, "not a readable state file"),
        "bomb": (json.dumps(bomb).encode(), "history counters longer than any history Vigil keeps"),
        "bad state": (data.replace(b'"reported":"', b'"reported":"maybe'), "not a readable state file"),
    }
    for name, (content, reason) in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_bytes(content)
        store, reader = engine(settings_for(path))
        caplog.clear()
        with caplog.at_level(logging.INFO, "vigil.state"):
            await reader.restore()
        lines = [r for r in caplog.records if r.name == "vigil.state"]
        assert len(lines) == 1, (name, caplog.text)
        assert lines[0].levelno == logging.WARNING and reason in lines[0].getMessage(), (name, lines[0].getMessage())
        assert "starting blank" in lines[0].getMessage()
        assert all(s.last is None and s.history.newest is None for s in store.states.values()), name

    oversized = tmp_path / "oversized.json"
    with oversized.open("wb") as file:
        file.truncate(limit_for(3, 1440) + 1)  # sparse: the size is refused before anything is read
    directory = tmp_path / "directory.json"
    directory.mkdir()
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    for path, reason in ((oversized, "over the"), (directory, "not a regular file"), (fifo, "not a regular file")):
        store, reader = engine(settings_for(path))
        caplog.clear()
        with caplog.at_level(logging.INFO, "vigil.state"):
            await reader.restore()
        assert reason in caplog.text and "starting blank" in caplog.text, caplog.text

    store, reader = engine(settings_for(tmp_path / "missing.json"))
    caplog.clear()
    with caplog.at_level(logging.INFO, "vigil.state"):
        await reader.restore()
    assert "no state file at" in caplog.text and "WARNING" not in caplog.text


def _deflated(size: int) -> str:
    import base64

    return base64.b64encode(zlib.compress(bytes(size), 9)).decode()


async def test_write_failures_are_counted_and_logged_once_per_cause(tmp_path: Path, caplog: Any) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")
    path = blocked / "state.json"  # its directory is a file: every write fails the same way
    store, writer = engine(settings_for(path))
    with caplog.at_level(logging.INFO, "vigil.state"):
        for _ in range(3):
            assert not await writer.write()
    assert (writer.counts.ok, writer.counts.error) == (0, 3)
    lines = [r.getMessage() for r in caplog.records if r.name == "vigil.state"]
    assert len(lines) == 1 and "not written: Not a directory" in lines[0], lines
    blocked.unlink()
    blocked.mkdir()
    with caplog.at_level(logging.INFO, "vigil.state"):
        assert await writer.write()
    assert "written again" in caplog.records[-1].getMessage()
    assert not list(blocked.glob(".*.tmp"))


async def test_a_history_from_the_future_or_twice_in_a_file_is_not_restored(tmp_path: Path) -> None:
    """A file written while the clock was ahead (then stepped back) would hold every new run out of the history
    until the clock caught up: that history is left out. A check listed twice is restored once."""
    path = tmp_path / "state.json"
    before, writer = engine(settings_for(path))
    ahead = time.time() + 2 * 86400
    before.record(result("cache:ping", P, ahead), 0.0)
    before.record(result("cache:memory", F, time.time() - 1), 0.0)
    assert await writer.write()
    document = json.loads(path.read_bytes())
    memory = next(c for c in document["checks"] if c["id"] == "cache:memory")
    document["checks"].append(memory)
    path.write_text(json.dumps(document))
    after, reader = engine(settings_for(path))
    await reader.restore()
    ping = after.states[CheckId("cache", "ping")]
    assert ping.history.newest is None
    after.record(result("cache:ping", P, time.time()), 1.0)
    assert ping.history.ratios(time.time())["5m"] == 1.0
    assert len(after.states[CheckId("cache", "memory")].transitions) == 1


async def test_writes_follow_a_reload(tmp_path: Path) -> None:
    """A check added or changed by a reload is written with the fingerprint of its new spec; a removed one is not."""
    path = tmp_path / "state.json"
    store, writer = engine(settings_for(path))
    reloaded = settings_for(path, failure_threshold=5).model_dump()
    del reloaded["components"]["queue"]
    reloaded["components"]["cache"]["checks"]["extra"] = {"kind": "connectivity"}
    new_settings = make_settings(**reloaded)
    _, scheduler = build_engine(new_settings)
    store.adopt(scheduler.specs, [spec.id for spec in scheduler.specs if spec.id in store.states])
    writer.adopt(new_settings)
    assert await writer.write()
    written = {c["id"]: c["spec"] for c in json.loads(path.read_bytes())["checks"]}
    scrubber = Scrubber(new_settings.secret_values())
    assert written == {str(spec.id): fingerprint(spec, scrubber) for spec in scheduler.specs}
