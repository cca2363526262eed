"""Renders store state as `application/health+json` (draft-inadarei-api-health-check) and kubelet-style text.

Shared by the HTTP API and the CLI so a check reads the same everywhere.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from app import __version__
from app.model import Status
from app.readiness import verdict
from app.store import CheckState, Store

HEALTH_JSON = "application/health+json"


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def overall(states: Iterable[CheckState], *, strict: bool) -> Status:
    """The readiness rule (app.readiness) over these checks' effective states."""
    return verdict(((state.effective, state.severity) for state in states), strict=strict)


def http_status(status: Status) -> int:
    return 503 if status is Status.FAIL else 200


def check_entry(state: CheckState, now: float) -> dict[str, Any]:
    last = state.last
    entry: dict[str, Any] = {
        "componentId": state.component,
        "componentType": state.component_type,
        "status": (state.effective or Status.FAIL).value,
        "state": state.state_name,
        "severity": state.severity.value,
        "time": iso(last.finished_at if last else None),
        "output": state.effective_output,
    }
    if last is not None:
        numeric = [o for o in last.observed if o.value is not None]
        if numeric:
            entry["observedValue"] = numeric[0].value
            if numeric[0].unit:
                entry["observedUnit"] = numeric[0].unit
        entry["observations"] = {o.name: {"value": o.value, "unit": o.unit} for o in last.observed}
        entry["lastResult"] = {
            "status": last.status.value,
            "duration": round(last.duration, 6),
            "scheduled": last.scheduled,
        }
    entry["consecutiveFailures"] = state.consecutive_failures
    entry["lastSuccess"] = iso(state.last_success_at)
    entry["availability"] = state.history.ratios(now)
    entry["transitions"] = [
        {"time": iso(t.at), "from": t.old, "to": t.new, "reason": t.reason} for t in reversed(state.transitions)
    ][:5]
    return entry


def health_document(
    store: Store, states: list[CheckState], *, details: bool, strict: bool = False
) -> tuple[int, dict[str, Any]]:
    """The health+json body and its HTTP status for a set of checks (`strict`: every check gates, see readiness)."""
    status = overall(states, strict=strict)
    document: dict[str, Any] = {"status": status.value}
    if not details:
        return http_status(status), document
    now = time.time()
    document.update(
        version="1",
        releaseId=__version__,
        serviceId="vigil",
        description="health of the system Vigil watches",
        checks={str(state.check_id): [check_entry(state, now)] for state in states},
    )
    if len(states) > 1:
        wanted = {state.check_id for state in states}
        document["transitions"] = [
            {"time": iso(t.at), "check": str(t.check_id), "from": t.old, "to": t.new, "reason": t.reason}
            for t in store.recent_transitions()
            if t.check_id in wanted
        ]
    return http_status(status), document


def verbose_lines(
    states: list[CheckState], excluded: set[str], *, strict: bool = False, name: str = "readyz"
) -> tuple[bool, str]:
    """kube-apiserver style: `[+]id ok` (or `[+]id warn: reason`) / `[-]id failed: reason`, then a summary line.

    Readiness follows the one rule (app.readiness) over the checks not excluded.
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
        reason = " ".join(state.effective_output.split())
        if effective is Status.WARN:
            lines.append(f"[+]{check_id} warn: {reason}{suffix}")
        elif effective is Status.PASS:
            lines.append(f"[+]{check_id} ok{suffix}")
        else:
            lines.append(f"[-]{check_id} failed: {reason}{suffix}")
    ready = overall(counted, strict=strict) is not Status.FAIL
    lines.append(f"{name} check {'passed' if ready else 'failed'}")
    return ready, "\n".join(lines) + "\n"
