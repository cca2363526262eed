"""The state file: the store's history and check states written atomically every `state.interval` and at
shutdown, and read back at start before the first runs, so bars, availability and states continue.

A file that cannot be used (corrupt, truncated, oversized, another format version, instance or shard, no check
in common) is reported in one log line and ignored: Vigil then starts blank. Write failures are logged once per
cause and counted (`vigil_state_file_writes_total`); encoding and writing run off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import json
import logging
import os
import socket
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from app.config.settings import Settings
from app.config.specs import CheckSpec
from app.engine import saved as saved_
from app.engine.saved import SavedCheck
from app.engine.statecodec import FORMAT, VERSION, Decoded, decode, encode, limit_for
from app.engine.store import Store
from app.masking import Scrubber
from app.model import CheckId
from app.units import span

log = logging.getLogger("vigil.state")

READ_DEADLINE = 10.0  # seconds for reading and decoding the file at start (a hung network volume)
EXPORT_CHUNK = 100  # checks copied per turn of the event loop
WRITE_DEADLINE = 30.0  # seconds one write may take before the next is allowed to try again
T = TypeVar("T")


def fingerprint(spec: CheckSpec, scrubber: Scrubber) -> str:
    """A short digest of what the check measures and how it is judged: its type, kind, options, schedule and its
    component's settings (other checks and secrets left out: a changed password is not another check)."""
    component = spec.component.model_dump(mode="json", exclude={"checks"})
    document = {
        "type": spec.type.name,
        "options": spec.options.model_dump(mode="json"),
        "schedule": asdict(spec.schedule),
        "component": component,
    }
    text = scrubber.text(json.dumps(document, sort_keys=True, default=str))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def instance_name(settings: Settings) -> str:
    return settings.state.instance or socket.gethostname()


class WriteCounts:
    """Writes of the state file by result, read by the metrics collector."""

    def __init__(self) -> None:
        self.ok = 0
        self.error = 0


class StateFile:
    """Reads the file once at start (`restore`), then writes it every interval (`start`) and at `stop`."""

    def __init__(self, settings: Settings, store: Store, specs: list[CheckSpec]) -> None:
        assert settings.state.path is not None
        self.path = Path(settings.state.path)
        self.temp = self.path.with_name(f".{self.path.name}.tmp")  # one writer per file: a fixed name, no litter
        self.interval = settings.state.interval
        self.store = store
        self.scrubber = Scrubber(settings.secret_values())
        self.instance = instance_name(settings)
        self.shard = (settings.shard.index, settings.shard.count)
        self.fingerprints = {spec.id: fingerprint(spec, self.scrubber) for spec in specs}
        self._specs = {spec.id: spec for spec in specs}
        self.history_slots = max((state.history.size for state in store.states.values()), default=1)
        self.counts = WriteCounts()
        self._failure: str | None = None  # the cause of the last failed write, logged once until it changes
        self._task: asyncio.Task[None] | None = None
        self._inflight: asyncio.Future[None] | None = None

    def _print(self, check_id: CheckId) -> str:
        """The fingerprint of the check's current spec: a reload may have changed or added it since the start."""
        spec = self.store.states[check_id].spec
        known = self._specs.get(check_id)
        if known is not spec:
            self._specs[check_id] = spec
            self.fingerprints[check_id] = fingerprint(spec, self.scrubber)
        return self.fingerprints[check_id]

    def adopt(self, settings: Settings) -> None:
        """A reloaded configuration: its secrets are masked from now on (instance and shard need a restart)."""
        self.scrubber = Scrubber(settings.secret_values())
        self.interval = settings.state.interval

    @property
    def limit(self) -> int:
        return limit_for(len(self.fingerprints), self.history_slots)

    # -- reading -----------------------------------------------------------------------------------

    async def restore(self) -> None:
        """Read the file into the store before the first run; any problem is one log line and a blank start."""
        try:
            decoded = await _in_thread(self._read, READ_DEADLINE)
        except TimeoutError:
            log.warning("state file %s ignored: not read within %s; starting blank", self.path, span(READ_DEADLINE))
            return
        except FileNotFoundError:
            log.info("no state file at %s yet: starting blank; it is written every %s", self.path, span(self.interval))
            return
        except Refused as exc:
            log.warning("state file %s ignored: %s; starting blank", self.path, exc)
            return
        except OSError as exc:
            log.warning("state file %s ignored: %s; starting blank", self.path, _reason(exc))
            return
        now, mono = time.time(), asyncio.get_running_loop().time()
        kept = changed = 0
        seen = set()
        for saved, print_ in decoded.checks:
            if saved.check_id not in self.fingerprints or saved.check_id in seen:
                continue
            seen.add(saved.check_id)
            same = print_ == self.fingerprints[saved.check_id]
            saved_.restore(self.store, saved, keep_state=same, now=now, mono=mono)
            kept, changed = kept + same, changed + (not same)
        self.store.restored()
        dropped = len({saved.check_id for saved, _ in decoded.checks} - seen)
        log.info(
            "state file %s restored (written %s ago): %d checks with their state, %d with their history only "
            "(their settings changed), %d no longer configured dropped",
            self.path,
            span(max(0.0, now - decoded.written_at)),
            kept,
            changed,
            dropped,
        )

    def _read(self) -> Decoded:
        # O_NONBLOCK: a FIFO at the path must not hang the open; only a regular file is read.
        fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise Refused("not a regular file")
            if info.st_size > self.limit:
                raise Refused(f"{info.st_size} bytes, over the {self.limit} bytes this configuration can write")
            data = _read_up_to(fd, self.limit + 1)
        finally:
            os.close(fd)
        if len(data) > self.limit:
            raise Refused(f"over the {self.limit} bytes this configuration can write")
        try:
            decoded = decode(data, self.history_slots)
        except (ValidationError, ValueError, RecursionError) as exc:
            raise Refused(f"not a readable state file ({_first_problem(exc)})") from None
        if decoded.format != FORMAT:
            raise Refused("not a Vigil state file")
        if decoded.version != VERSION:
            raise Refused(f"state format {decoded.version}, this Vigil reads format {VERSION}")
        if decoded.instance != self.instance:
            raise Refused(f"written by instance {decoded.instance!r}, this is {self.instance!r}")
        if decoded.shard != self.shard:
            raise Refused(
                f"written by shard {decoded.shard[0]} of {decoded.shard[1]}, this is shard {self.shard[0]} of "
                f"{self.shard[1]}"
            )
        if decoded.checks and not any(saved.check_id in self.fingerprints for saved, _ in decoded.checks):
            raise Refused("from another configuration: none of its checks is configured here")
        return decoded

    # -- writing -----------------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="state file")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            if self._inflight is not None and not self._inflight.done():
                continue  # the last write still hangs (a stuck volume): never two at once
            await self.write()

    async def write(self, deadline: float = WRITE_DEADLINE) -> bool:
        """Copy the store on the loop, encode and write in a thread; True when the file was replaced."""
        loop = asyncio.get_running_loop()
        records: list[tuple[SavedCheck, str]] = []
        ids = list(self.store.states)
        for start in range(0, len(ids), EXPORT_CHUNK):  # copied on the loop, a few milliseconds at a time
            chunk = ids[start : start + EXPORT_CHUNK]
            records.extend(
                (saved, self._print(saved.check_id))
                for saved in saved_.export(self.store, time.time(), loop.time(), chunk)
            )
            await asyncio.sleep(0)
        header = {"instance": self.instance, "shard": list(self.shard), "written_at": time.time()}
        self._inflight = future = _start_thread(lambda: self._write(header, records))
        try:
            await asyncio.wait_for(asyncio.shield(future), deadline)
        except TimeoutError:
            self._failed(f"not written within {span(deadline)}")
            return False
        except OSError as exc:
            self._failed(_reason(exc))
            return False
        except Exception as exc:  # a bug in Vigil: counted and told once, never the end of the writes
            cause = f"{type(exc).__name__}: {exc}"
            if cause != self._failure:
                log.error("state file %s not written: an unexpected error", self.path, exc_info=exc)
            self._failed(cause, quiet=True)
            return False
        self.counts.ok += 1
        if self._failure is not None:
            log.info("state file %s written again", self.path)
            self._failure = None
        return True

    def _write(self, header: dict[str, Any], records: list[tuple[SavedCheck, str]]) -> None:
        data = encode(header, records, self.scrubber)
        if not os.path.lexists(self.path.parent):  # a first start: the directory is made (0700) once
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(self.temp, flags, 0o600)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(self.temp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(self.temp)
            raise
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself survives a power cut
        finally:
            os.close(directory)

    def _failed(self, cause: str, *, quiet: bool = False) -> None:
        self.counts.error += 1
        if cause != self._failure and not quiet:
            log.warning(
                "state file %s not written: %s (said once until the cause changes; vigil_state_file_writes_total "
                "counts every attempt)",
                self.path,
                cause,
            )
        self._failure = cause

    async def stop(self, deadline: float) -> None:
        """The last write, after the scheduler stopped: waits for a write in flight first, all within `deadline`."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        started = asyncio.get_running_loop().time()
        if self._inflight is not None and not self._inflight.done():
            await asyncio.wait([self._inflight], timeout=deadline)
            if not self._inflight.done():
                return
        await self.write(max(0.1, deadline - (asyncio.get_running_loop().time() - started)))


def _read_up_to(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


class Refused(Exception):
    """Why a state file is not used: the finished phrase of its log line."""


def _reason(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"{exc.strerror} (the volume is full)"
    where = f" ({exc.filename})" if isinstance(exc.filename, str) else ""
    return f"{exc.strerror or type(exc).__name__}{where}"


def _first_problem(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in error["loc"])
        return f"{where}: {error['msg']}" if where else str(error["msg"])
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return str(exc)


def _start_thread(work: Callable[[], T]) -> asyncio.Future[T]:
    """Run `work` in a daemon thread of its own (a write stuck on a dead volume never holds up the exit)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(outcome: Callable[[], None]) -> None:
        if not future.done():
            outcome()

    def hand_over(outcome: Callable[[], None]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile (an exit that did not wait)
            loop.call_soon_threadsafe(settle, outcome)

    def run() -> None:
        try:
            value = work()
        except BaseException as exc:  # handed to the loop, which decides
            error = exc
            hand_over(lambda: future.set_exception(error))
        else:
            hand_over(lambda: future.set_result(value))

    future.add_done_callback(lambda f: f.cancelled() or f.exception())  # an abandoned failure is not "unretrieved"
    threading.Thread(target=run, name="vigil-state", daemon=True).start()
    return future


async def _in_thread(work: Callable[[], T], deadline: float) -> T:
    return await asyncio.wait_for(_start_thread(work), deadline)
