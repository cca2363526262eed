"""The status page's view model: store state in, the JSON document the page polls out (no I/O, no clock).

app/api/status.py caches the encoded document per store version; `RowMemo` keeps the work of a build to the checks
that changed, since reading a 24 h history (`History.cells`, `History.ratios`) walks every slot of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from app.config.maintenance import open_window
from app.config.settings import ShowDetails
from app.engine.history import History
from app.engine.readiness import assess
from app.engine.store import CheckState, Store, Transition
from app.model import CheckId, CheckResult, State, Status
from app.views.report import overall
from app.views.shapes import (
    CheckRow,
    ComponentView,
    LastRunView,
    ReadinessView,
    StateCounts,
    StatusDocument,
    StatusTransition,
)

BAR_CELLS = 48  # 24 h of history in half-hour cells
TRANSITIONS_SHOWN = 10
BLOCKING_NAMED = 3  # failing critical checks named in the readiness reason; the rest are counted
_CODE = {Status.PASS: "p", Status.WARN: "w", Status.FAIL: "f", None: "-"}


@dataclass(frozen=True, slots=True)
class Bar:
    """A check's availability bar: one letter per cell (p pass, w warn, f fail, - no run), worst result first.

    `problems` holds (cell index, runs, warned, failed) for the cells with a warn or a fail, for their tooltips.
    """

    start: float  # wall clock of the first cell's start
    cell_seconds: float
    code: str
    problems: tuple[tuple[int, int, int, int], ...]


def bar_cell_index(history: History, now: float, count: int = BAR_CELLS) -> tuple[int, float]:
    """The current cell's number and the cells' width. Cells are aligned to their width (the last one is the
    current, partial one), so a bar changes only when a result arrives or a new cell starts."""
    per_cell = max(1, history.size // count)
    width = per_cell * history.slot
    return int(now // width), width


def bar(history: History, now: float, count: int = BAR_CELLS) -> Bar:
    index, width = bar_cell_index(history, now, count)
    end = (index + 1) * width
    cells = history.cells(end - history.slot / 2, count)  # `now` inside the last slot of the current cell
    code = "".join(_CODE[cell.worst] for cell in cells)
    problems = tuple((i, c.runs, c.warned, c.failed) for i, c in enumerate(cells) if c.warned or c.failed)
    return Bar(cells[0].start, width, code, problems)


@dataclass
class RowMemo:
    """Per check, what the last build computed, reused until it can differ: a bar until the check records a
    result (a new `state.last`) or a new cell starts, availability until a result or a new history slot, and the
    whole row until any of those or its staleness changes. A build then costs little for checks that did not run."""

    _bars: dict[CheckId, tuple[CheckResult | None, int, Bar]] = field(default_factory=dict)
    _ratios: dict[CheckId, tuple[CheckResult | None, int, dict[str, float | None]]] = field(default_factory=dict)
    _rows: dict[tuple[CheckId, bool], tuple[CheckResult | None, bool, int, CheckRow]] = field(default_factory=dict)

    def bar(self, state: CheckState, now: float) -> Bar:
        index, _ = bar_cell_index(state.history, now)
        hit = self._bars.get(state.check_id)
        if hit is not None and hit[0] is state.last and hit[1] == index:
            return hit[2]
        value = bar(state.history, now)
        self._bars[state.check_id] = (state.last, index, value)
        return value

    def availability(self, state: CheckState, now: float) -> dict[str, float | None]:
        slot = int(now // state.history.slot)
        hit = self._ratios.get(state.check_id)
        if hit is not None and hit[0] is state.last and hit[1] == slot:
            return hit[2]
        value = state.history.ratios(now)
        self._ratios[state.check_id] = (state.last, slot, value)
        return value

    def row(self, state: CheckState, now: float, *, details: bool) -> CheckRow:
        stale, slot = state.stale, int(now // state.history.slot)
        hit = self._rows.get((state.check_id, details))
        if hit is not None and hit[0] is state.last and hit[1] == stale and hit[2] == slot:
            return hit[3]
        window = open_window(state.spec.maintenance, now) if state.spec.maintenance else None
        value = check_view(
            state, self.bar(state, now), self.availability(state, now), details=details, maintenance=window
        )
        self._rows[state.check_id, details] = (state.last, stale, slot, value)
        return value


def _ratio(value: float | None) -> float | None:
    return None if value is None else round(value, 5)


def last_run_view(state: CheckState, *, details: bool) -> LastRunView | None:
    """The latest run where hysteresis does not report it yet (a failure below `failure_threshold`, a pass below
    `success_threshold`): the page shows it beside the reported state."""
    held = state.unconfirmed
    if held is None or state.last is None:
        return None
    output = " ".join(state.last.output.split()) if details else None
    return {"status": held.status, "runs": held.runs, "needed": held.needed, "output": output}


def check_view(
    state: CheckState,
    bar_: Bar,
    availability: dict[str, float | None],
    *,
    details: bool,
    maintenance: tuple[str, float] | None = None,
) -> CheckRow:
    """One check's row. The output of a non-passing check only with details (the show_details rule);
    `maintenance`: the window open now, (name, end)."""
    last = state.last
    name = state.state_name
    return {
        "id": str(state.check_id),
        "name": state.check,
        "state": name,
        "severity": state.severity,
        "stale": state.stale,
        "lastRun": None if last is None else round(last.finished_at, 3),
        "onDemand": last is not None and not last.scheduled,
        "failures": state.consecutive_failures,
        "output": state.effective_output if details and name is not State.PASS else None,
        "unconfirmed": last_run_view(state, details=details),
        "maintenance": None if maintenance is None else {"name": maintenance[0], "until": round(maintenance[1], 3)},
        "availability": {window: _ratio(value) for window, value in availability.items()},
        "bar": bar_.code,
        "barProblems": [list(problem) for problem in bar_.problems],
        "durations": [round(seconds * 1000, 2) for seconds in state.recent_durations],  # milliseconds
    }


def _names(states: Sequence[CheckState]) -> str:
    named = ", ".join(
        f"{s.check_id} ({'not run yet' if s.effective is None else 'failing'})" for s in states[:BLOCKING_NAMED]
    )
    more = len(states) - BLOCKING_NAMED
    return f"{named} and {more} more" if more > 0 else named


def _ids(states: Sequence[CheckState]) -> str:
    named = ", ".join(str(s.check_id) for s in states[:BLOCKING_NAMED])
    more = len(states) - BLOCKING_NAMED
    return f"{named} and {more} more" if more > 0 else named


def readiness_view(store: Store, states: Sequence[CheckState]) -> ReadinessView:
    """What /readyz says and why, by the one readiness rule (app.engine.readiness): the checks in the way, those
    that warn, and those whose latest run failed below their failure threshold (not reported as failing yet)."""
    verdict = assess(states, lambda s: (s.effective, s.severity), shutting_down=store.shutting_down)
    blocking, warning = verdict.blocking, verdict.warning
    held = [s for s in states if (u := s.unconfirmed) is not None and u.status is Status.FAIL]
    if verdict.shutting_down:
        reason = "not ready: Vigil is shutting down"
    elif blocking:
        noun = "critical check" if len(blocking) == 1 else "critical checks"
        reason = f"not ready: {len(blocking)} {noun} not passing: {_names(blocking)}"
    elif warning or held:
        parts = []
        if warning:
            noun = "check warns or fails" if len(warning) == 1 else "checks warn or fail"
            parts.append(f"{len(warning)} {noun} without gating readiness: {_ids(warning)}")
        if held:
            noun = "check's" if len(held) == 1 else "checks'"
            parts.append(f"{len(held)} {noun} last run failed, below the failure threshold: {_ids(held)}")
        reason = f"ready, with problems: {'; '.join(parts)}"
    elif states:
        reason = "ready: every critical check passes"
    else:
        reason = "ready: no checks configured"
    return {
        "ready": verdict.ready,
        "status": verdict.status,
        "reason": reason,
        "since": round(store.verdict_since, 3),
        "blocking": [{"id": str(s.check_id), "state": s.state_name} for s in blocking],
        "warning": [str(s.check_id) for s in warning],
        "unconfirmed": [str(s.check_id) for s in held],
        "starting": not store.startup_complete,
    }


def transition_view(transition: Transition, *, details: bool) -> StatusTransition:
    return {
        "at": round(transition.at, 3),
        "check": str(transition.check_id),
        "from": transition.old,
        "to": transition.new,
        "reason": transition.reason if details else None,
    }


def build(
    store: Store,
    now: float,
    *,
    details: bool,
    memo: RowMemo,
    runs_enabled: bool,
    show_details: ShowDetails,
    details_note: str | None = None,
) -> StatusDocument:
    """The whole document for one store version and one detail level (see README, "Status page")."""
    states = list(store.states.values())
    counts: StateCounts = {"pass": 0, "warn": 0, "fail": 0, "pending": 0}
    components: list[ComponentView] = []
    for component, members in store.by_component.items():
        rows = []
        for state in members:
            counts[state.state_name.value] += 1
            rows.append(memo.row(state, now, details=details))
        components.append(
            {
                "name": component,
                "type": members[0].component_type,
                "status": overall(members, strict=True),  # a part reports its own worst state, as /health/{c}
                "checks": rows,
            }
        )
    geometry = memo.bar(states[0], now) if states else None  # every check keeps the same span of history
    return {
        "version": store.version,
        "generated": round(now, 3),
        "details": details,
        "showDetails": show_details,
        "detailsNote": None if details else details_note,
        "runsEnabled": runs_enabled,
        "readiness": readiness_view(store, states),
        "counts": counts,
        "total": len(states),
        "transitions": [transition_view(t, details=details) for t in store.recent_transitions(TRANSITIONS_SHOWN)],
        "bar": None
        if geometry is None
        else {"start": geometry.start, "cellSeconds": geometry.cell_seconds, "cells": len(geometry.code)},
        "components": components,
    }
