"""The state file's format: JSON, histories as base64 of zlib-compressed little-endian counters, every text
masked and cut to a fixed length on the way out, every field bounded and checked on the way in.

`encode` and `decode` are pure (no I/O, no clock); app.engine.statefile does the reading, writing and deciding.
"""

from __future__ import annotations

import base64
import json
import math
import sys
import zlib
from array import array
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from app.engine.forecast import SLOTS
from app.engine.history import SLOT
from app.engine.hysteresis import Latch
from app.engine.saved import SavedCheck, SavedState
from app.engine.store import RECENT_DURATIONS, TRANSITIONS_KEPT
from app.masking import MASK, Scrubber
from app.model import CheckId, CheckResult, Limit, Observation, State, Status
from app.text import printable

FORMAT = "vigil-state"
VERSION = 1
OUTPUT_KEPT = 4000  # characters of a last result's output (what the scheduler keeps)
REASON_KEPT = 300  # characters of a transition's reason: the page shows one line of it
TEXT_KEPT = 256  # characters of a text observation, a measure's name or unit
OBSERVED_KEPT = 64  # observations of a last result
SERIES_KEPT = 16  # forecast series per check
# Bytes a file may have: a floor, plus per configured check what one can take at most (texts at 4 bytes a
# character, the history's counters incompressible). Real files are far smaller (docs/state.md).
LIMIT_FLOOR = 16 * 1024 * 1024
LIMIT_PER_CHECK = 64 * 1024


def limit_for(checks: int, history_slots: int) -> int:
    return LIMIT_FLOOR + checks * (LIMIT_PER_CHECK + 8 * history_slots)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False)


Text = Annotated[str, Field(max_length=OUTPUT_KEPT)]


class _Limit(_Model):
    value: float
    name: Annotated[str, Field(max_length=TEXT_KEPT)]
    falling: bool


class _Observation(_Model):
    name: Annotated[str, Field(max_length=TEXT_KEPT)]
    value: bool | int | float | Annotated[str, Field(max_length=TEXT_KEPT)] | None
    unit: Annotated[str, Field(max_length=TEXT_KEPT)] | None
    limit: _Limit | None


class _Result(_Model):
    status: Status
    output: Text
    observed: Annotated[list[_Observation], Field(max_length=OBSERVED_KEPT)]
    started_at: float
    duration: Annotated[float, Field(ge=0)]
    scheduled: bool
    latch: Text | None


class _Latch(_Model):
    reason: Text
    runs_left: Annotated[int, Field(ge=0, le=1000)]


Point = tuple[float, float]


class _State(_Model):
    reported: Status | None
    failures: Annotated[int, Field(ge=0)]
    successes: Annotated[int, Field(ge=0)]
    last_success_at: float | None
    latch: _Latch | None
    last: _Result | None
    series: Annotated[
        list[tuple[Annotated[str, Field(max_length=TEXT_KEPT)], Annotated[list[Point], Field(max_length=SLOTS + 1)]]],
        Field(max_length=SERIES_KEPT),
    ]


class _History(_Model):
    newest: int | None
    counts: Annotated[list[Annotated[str, Field(max_length=200_000)]], Field(min_length=3, max_length=3)]


Transition = tuple[float, State, State, Annotated[str, Field(max_length=REASON_KEPT)]]


class _Check(_Model):
    id: Annotated[str, Field(max_length=200)]
    spec: Annotated[str, Field(max_length=64)]
    history: _History
    durations: Annotated[list[Annotated[float, Field(ge=0)]], Field(max_length=RECENT_DURATIONS)]
    transitions: Annotated[list[Transition], Field(max_length=TRANSITIONS_KEPT)]
    state: _State | None


class _Document(_Model):
    format: str
    version: int
    written_at: float
    instance: Annotated[str, Field(max_length=253)]
    shard: tuple[int, int]
    slot: float
    checks: list[_Check]


class _Header(_Model):
    """What is read first: a file of another format or version is refused before its body is validated."""

    format: str
    version: int


@dataclass(frozen=True, slots=True)
class Decoded:
    format: str
    version: int
    written_at: float
    instance: str
    shard: tuple[int, int]
    checks: list[tuple[SavedCheck, str]]  # each with its spec's fingerprint


# -- encoding ----------------------------------------------------------------------------------------


def encode(header: dict[str, Any], records: list[tuple[SavedCheck, str]], scrubber: Scrubber) -> bytes:
    """The file's bytes. Texts are masked again with the configured secrets (outputs were masked when made; this
    also catches a secret configured since) and cut to their kept length, so the file's size is bounded per check."""

    secrets = scrubber.secrets

    def text(value: str, limit: int) -> str:
        # URL passwords were masked when the text was made (the Scrubber's URL pattern costs milliseconds on a
        # long output): only the configured secrets are looked for again.
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return printable(value, limit - 1)[:limit]

    def result(last: CheckResult) -> dict[str, Any]:
        return {
            "status": last.status.value,
            "output": text(last.output, OUTPUT_KEPT),
            "observed": [
                {
                    "name": text(o.name, TEXT_KEPT),
                    "value": text(o.value, TEXT_KEPT) if isinstance(o.value, str) else _finite(o.value),
                    "unit": None if o.unit is None else text(o.unit, TEXT_KEPT),
                    "limit": None if o.limit is None else {**_limit(o.limit), "name": text(o.limit.name, TEXT_KEPT)},
                }
                for o in last.observed[:OBSERVED_KEPT]
                if o.limit is None or math.isfinite(o.limit.value)
            ],
            "started_at": last.started_at,
            "duration": last.duration,
            "scheduled": last.scheduled,
            "latch": None if last.latch is None else text(last.latch, OUTPUT_KEPT),
        }

    def state(saved: SavedState) -> dict[str, Any]:
        return {
            "reported": None if saved.reported is None else saved.reported.value,
            "failures": saved.consecutive_failures,
            "successes": saved.consecutive_successes,
            "last_success_at": saved.last_success_at,
            "latch": None
            if saved.latch is None
            else {"reason": text(saved.latch.reason, OUTPUT_KEPT), "runs_left": saved.latch.runs_left},
            "last": None if saved.last is None else result(saved.last),
            "series": [
                [text(name, TEXT_KEPT), [list(p) for p in points]] for name, points in saved.series[:SERIES_KEPT]
            ],
        }

    checks = [
        {
            "id": str(saved.check_id),
            "spec": print_,
            "history": {"newest": saved.history_newest, "counts": [_pack(counts) for counts in saved.history]},
            "durations": [d for d in saved.durations if math.isfinite(d)],
            "transitions": [[at, old, new, text(reason, REASON_KEPT)] for at, old, new, reason in saved.transitions],
            "state": None if saved.state is None else state(saved.state),
        }
        for saved, print_ in records
    ]
    document = {"format": FORMAT, "version": VERSION, **header, "slot": SLOT, "checks": checks}
    return json.dumps(document, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def _finite(value: float | int | bool | None) -> float | int | bool | None:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _limit(limit: Limit) -> dict[str, Any]:
    return {"value": limit.value, "falling": limit.falling}


def _pack(counts: bytes) -> str:
    if sys.byteorder == "big":
        ring = array("H", counts)
        ring.byteswap()
        counts = ring.tobytes()
    return base64.b64encode(zlib.compress(counts, 1)).decode("ascii")


# -- decoding ----------------------------------------------------------------------------------------


def decode(data: bytes, history_slots: int) -> Decoded:
    """The file's content, every field checked (ValueError or pydantic's ValidationError otherwise)."""
    header = _Header.model_validate_json(data)
    if header.format != FORMAT or header.version != VERSION:
        return Decoded(header.format, header.version, 0.0, "", (0, 0), [])
    document = _Document.model_validate_json(data)
    if document.slot != SLOT:
        raise ValueError(f"history slots of {document.slot} s, this Vigil keeps {SLOT} s")
    most = max(history_slots, 7 * 86400 // int(SLOT)) * 2  # bytes of one counter ring at most
    checks = []
    for check in document.checks:
        check_id = CheckId.parse(check.id)
        if check_id is None:
            raise ValueError(f"check id {check.id!r} is not component:check")
        counts = tuple(_unpack(packed, most) for packed in check.history.counts)
        if len({len(c) for c in counts}) != 1 or not counts[0] or len(counts[0]) % 2:
            raise ValueError(f"{check.id}: history counters of unequal or odd length")
        saved = SavedCheck(
            check_id,
            check.history.newest,
            counts,
            tuple(check.durations),
            tuple((at, str(old), str(new), reason) for at, old, new, reason in check.transitions),
            None if check.state is None else _state(check_id, check.state),
        )
        checks.append((saved, check.spec))
    return Decoded(document.format, document.version, document.written_at, document.instance, document.shard, checks)


def _unpack(packed: str, most: int) -> bytes:
    try:
        compressed = base64.b64decode(packed, validate=True)
        inflate = zlib.decompressobj()
        counts = inflate.decompress(compressed, most + 1)
    except (ValueError, zlib.error) as exc:
        raise ValueError(f"history counters do not decode ({exc})") from None
    if len(counts) > most or not inflate.eof:
        raise ValueError("history counters longer than any history Vigil keeps")
    if sys.byteorder == "big":
        ring = array("H", counts)
        ring.byteswap()
        counts = ring.tobytes()
    return counts


def _state(check_id: CheckId, state: _State) -> SavedState:
    last = state.last
    result = None
    if last is not None:
        observed = tuple(
            Observation(
                o.name,
                o.value,
                o.unit,
                None if o.limit is None else Limit(o.limit.value, o.limit.name, o.limit.falling),
            )
            for o in last.observed
        )
        result = CheckResult(
            check_id.component,
            check_id.check,
            "",  # the type comes from the configuration when restored
            last.status,
            last.output,
            observed,
            last.started_at,
            last.duration,
            last.scheduled,
            last.latch,
        )
    latch = None if state.latch is None else Latch(state.latch.reason, state.latch.runs_left)
    series = tuple((name, tuple(points)) for name, points in state.series)
    return SavedState(state.reported, result, state.failures, state.successes, state.last_success_at, latch, series)
