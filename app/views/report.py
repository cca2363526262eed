"""Renders store state as `application/health+json` (draft-inadarei-api-health-check) and kubelet-style text.

Shared by the HTTP API and the CLI so a check reads the same everywhere.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from app import __version__, units
from app.config.fields import Area
from app.engine.readiness import assess, verdict
from app.engine.store import CheckState, Store, Transition
from app.model import CheckId, CheckResult, Status
from app.text import encodable
from app.views.shapes import AreaEntry, CheckEntry, DocumentTransition, EntryExtras, EntryTransition, HealthDocument

HEALTH_JSON = "application/health+json"


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return units.iso_timestamp(ts, precise=True)


def overall(states: Iterable[CheckState], *, strict: bool) -> Status:
    """The readiness rule (app.engine.readiness) over these checks' effective states."""
    return verdict(((state.effective, state.severity) for state in states), strict=strict)


def http_status(status: Status) -> int:
    return 503 if status is Status.FAIL else 200


def affected_by(store: Store, state: CheckState) -> list[str]:
    """The components this failing check's component depends on (`depends_on`) whose critical checks fail too:
    the likely root causes. Empty for a check that is not failing."""
    if state.effective is not Status.FAIL:
        return []
    causes = []
    for dependency in state.spec.component.depends_on:
        if any(s.critical and s.effective is Status.FAIL for s in store.component(dependency)):
            causes.append(dependency)
    return causes


def output_of(store: Store, state: CheckState) -> str:
    """The check's output, plus the failing dependencies that likely explain it."""
    causes = affected_by(store, state)
    if not causes:
        return state.effective_output
    return f"{state.effective_output} (dependency {', '.join(causes)} {'is' if len(causes) == 1 else 'are'} failing)"


def root_causes_first(store: Store, states: list[CheckState]) -> list[CheckState]:
    """Failing checks not explained by a failing dependency first, then those that are, then the rest."""

    def rank(state: CheckState) -> int:
        if state.effective is not Status.FAIL:
            return 2
        return 1 if affected_by(store, state) else 0

    return sorted(states, key=rank)  # stable: config order within each rank


def entry_transition(t: Transition) -> EntryTransition:
    return {"time": iso(t.at), "from": t.old, "to": t.new, "reason": t.reason}


def check_entry(state: CheckState, now: float, store: Store | None = None) -> CheckEntry:
    last = state.last
    extras: EntryExtras = {}
    if store is not None and (causes := affected_by(store, state)):
        extras["affectedBy"] = causes
    if last is not None:
        numeric = [o for o in last.observed if o.value is not None]
        if numeric:
            extras["observedValue"] = numeric[0].value
            if numeric[0].unit:
                extras["observedUnit"] = numeric[0].unit
        extras["observations"] = {o.name: {"value": o.value, "unit": o.unit} for o in last.observed}
        extras["lastResult"] = {
            "status": last.status,
            "duration": round(last.duration, 6),
            "scheduled": last.scheduled,
        }
    if (forecast := state.forecast) is not None:
        extras["forecast"] = {
            "measure": forecast.measure,
            "limit": forecast.limit.value,
            "limitName": forecast.limit.name,
            "now": forecast.now,
            "ratePerSecond": forecast.rate,
            "breachIn": round(forecast.breach_in, 3),
            "window": round(forecast.window, 3),
            "points": forecast.points,
            "method": forecast.method,
        }
    return {
        "componentId": state.component,
        "componentType": state.component_type,
        "status": state.effective or Status.FAIL,
        "state": state.state_name,
        "severity": state.severity,
        "area": state.spec.area,
        "time": iso(last.finished_at if last else None),
        "output": state.effective_output if store is None else output_of(store, state),
        **extras,
        "consecutiveFailures": state.consecutive_failures,
        "lastSuccess": iso(state.last_success_at),
        "availability": state.history.ratios(now),
        "transitions": [entry_transition(t) for t in reversed(state.transitions)][:5],
    }


def by_area(states: list[CheckState]) -> dict[Area, list[CheckState]]:
    """Checks grouped by area, areas in their fixed order (database, redis, security, performance, communication)."""
    groups: dict[Area, list[CheckState]] = {area: [] for area in Area}
    for state in states:
        groups[state.spec.area].append(state)
    return {area: members for area, members in groups.items() if members}


def area_summary(states: list[CheckState], *, strict: bool, details: bool = True) -> dict[str, AreaEntry]:
    """Per area: its title, its verdict under the readiness rule, and (with details) its checks."""
    areas: dict[str, AreaEntry] = {}
    for area, members in by_area(states).items():
        entry: AreaEntry = {"title": area.label, "status": overall(members, strict=strict)}
        if details:
            entry["checks"] = [str(s.check_id) for s in members]
        areas[area.value] = entry
    return areas


def _head(
    store: Store, states: list[CheckState], *, details: bool, strict: bool, group: str | None
) -> tuple[Status, HealthDocument]:
    """The document's own fields, without the per-check entries and transitions."""
    status = overall(states, strict=strict)
    document: HealthDocument = {"status": status}
    if group == "area":
        document["areas"] = area_summary(states, strict=strict, details=details)
    if details:
        document["version"] = "1"
        document["releaseId"] = __version__
        document["serviceId"] = "vigil"
        document["description"] = "health of the system Vigil watches"
    return status, document


def _transitions(store: Store, states: list[CheckState]) -> list[DocumentTransition] | None:
    """The recent transitions of these checks, for a document over more than one check."""
    if len(states) <= 1:
        return None
    wanted = {state.check_id for state in states}
    return [
        {"time": iso(t.at), "check": str(t.check_id), "from": t.old, "to": t.new, "reason": t.reason}
        for t in store.recent_transitions()
        if t.check_id in wanted
    ]


def health_document(
    store: Store, states: list[CheckState], *, details: bool, strict: bool = False, group: str | None = None
) -> tuple[int, HealthDocument]:
    """The health+json body and its HTTP status for a set of checks (`strict`: every check gates, see readiness;
    `group="area"` adds the verdict per area)."""
    status, document = _head(store, states, details=details, strict=strict, group=group)
    if not details:
        return http_status(status), document
    now = time.time()
    document["checks"] = {str(state.check_id): [check_entry(state, now, store)] for state in states}
    if (transitions := _transitions(store, states)) is not None:
        document["transitions"] = transitions
    return http_status(status), document


def encode(value: Any, *, indent: int | None = None) -> str:
    """JSON as the API sends it (Starlette's JSONResponse encoding, byte for byte; `indent` for people), whatever a
    target put in a result: a NaN or an infinity is written null, a lone surrogate as an escape."""
    separators = (",", ":") if indent is None else (",", ": ")
    dumps = partial(json.dumps, ensure_ascii=False, allow_nan=False, indent=indent, separators=separators)
    try:
        text = dumps(value)
    except ValueError:  # a non-finite number: results are kept finite, this is the last guard
        text = dumps(_finite(value))
    return encodable(text)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


@dataclass
class EntryMemo:
    """Per app: each check's encoded `"id":[entry]` member, reused until it can differ (a new result, staleness,
    a new history slot for its availability, or a change in which dependencies explain its failure).

    At 1,000 checks a detailed /health then encodes only the checks that ran since the last request and joins
    the rest; `encoded_health` sends exactly what `health_document` would encode."""

    _members: dict[CheckId, tuple[CheckResult | None, bool, int, tuple[str, ...], bytes]] = field(default_factory=dict)

    def member(self, store: Store, state: CheckState, now: float) -> bytes:
        slot = int(now // state.history.slot)
        causes = tuple(affected_by(store, state))
        hit = self._members.get(state.check_id)
        if hit is not None and hit[0] is state.last and hit[1] == state.stale and hit[2] == slot and hit[3] == causes:
            return hit[4]
        body = f"{encode(str(state.check_id))}:[{encode(check_entry(state, now, store))}]".encode()
        self._members[state.check_id] = (state.last, state.stale, slot, causes, body)
        return body


def encoded_health(
    store: Store,
    states: list[CheckState],
    memo: EntryMemo,
    *,
    details: bool,
    strict: bool = False,
    group: str | None = None,
) -> tuple[int, bytes]:
    """`health_document` encoded as the API sends it, from `memo`'s per-check members."""
    status, document = _head(store, states, details=details, strict=strict, group=group)
    head = encode(document).encode()
    if not details:
        return http_status(status), head
    now = time.time()
    parts = [head[:-1], b',"checks":{', b",".join(memo.member(store, state, now) for state in states), b"}"]
    if (transitions := _transitions(store, states)) is not None:
        parts.append(b',"transitions":' + encode(transitions).encode())
    parts.append(b"}")
    return http_status(status), b"".join(parts)


WITHHELD = "reason withheld"  # kube-apiserver's words for a reason the caller may not see


_HELD = {Status.FAIL: ("failed", "failing"), Status.WARN: ("warned", "ok"), Status.PASS: ("passed", "ok")}


def unconfirmed_text(state: CheckState) -> str | None:
    """`last run failed (1 of 3 before it is reported as failing)`: the latest run, where hysteresis holds it."""
    held = state.unconfirmed
    if held is None:
        return None
    word, reported = _HELD[held.status]
    return f"last run {word} ({held.runs} of {held.needed} before it is reported as {reported})"


def verbose_lines(
    states: list[CheckState],
    excluded: set[str],
    *,
    strict: bool = False,
    name: str = "readyz",
    details: bool = True,
    shutting_down: bool = False,
) -> tuple[bool, str]:
    """kube-apiserver style: `[+]id ok` (or `[+]id warn: reason`) / `[-]id failed: reason`, then a summary line.

    Readiness follows the one rule (app.engine.readiness) over the checks not excluded; a Vigil shutting down lists
    its shutdown as one more failing check. Without `details` (the show_details rule) every check is still listed,
    its reason withheld. A latest run that hysteresis does not report yet is said after the state.
    """
    lines = []
    counted = []
    for state in states:
        check_id = str(state.check_id)
        if check_id in excluded:
            lines.append(f"[+]{check_id} excluded: ok")
            continue
        counted.append(state)
        effective = state.effective
        suffix = "" if state.critical else " (degraded: does not gate readiness)"
        # One line per check, whatever the reason looks like (a multi-line error would break parsers).
        reason = " ".join(state.effective_output.split()) if details else WITHHELD
        if (held := unconfirmed_text(state)) is not None:
            reason = f"{held}: {reason}"
        if effective is Status.WARN:
            lines.append(f"[+]{check_id} warn: {reason}{suffix}")
        elif effective is Status.PASS:
            lines.append(f"[+]{check_id} ok{f': {reason}' if held else ''}{suffix}")
        else:
            lines.append(f"[-]{check_id} failed: {reason}{suffix}")
    verdict = assess(counted, lambda s: (s.effective, s.severity), strict=strict, shutting_down=shutting_down)
    if verdict.shutting_down:
        lines.append("[-]shutdown failed: shutting down")
    lines.append(f"{name} check {'passed' if verdict.ready else 'failed'}")
    return verdict.ready, "\n".join(lines) + "\n"
