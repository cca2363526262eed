"""What a state file keeps of one check: plain frozen values, copied out of the store (`export`) and put back
into it before the first runs (`restore`, then `Store.restored`).

Times are wall-clock seconds here (a forecast series runs on the monotonic clock in the store: converted both ways).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from app.engine.forecast import SLOTS, MeasureSeries
from app.engine.hysteresis import Latch
from app.engine.store import Store, Transition
from app.model import CheckId, CheckResult, State, Status


@dataclass(frozen=True, slots=True)
class SavedState:
    """A check's state: what its next run is judged against (kept only while its spec is unchanged)."""

    reported: Status | None
    last: CheckResult | None
    consecutive_failures: int
    consecutive_successes: int
    last_success_at: float | None
    latch: Latch | None
    series: tuple[tuple[str, tuple[tuple[float, float], ...]], ...]  # limited measures' per-slot medians


@dataclass(frozen=True, slots=True)
class SavedCheck:
    """A check's history (kept while its id stays) and its state."""

    check_id: CheckId
    history_newest: int | None
    history: tuple[bytes, ...]  # per Status (PASS, WARN, FAIL), the ring's counters
    durations: tuple[float, ...]
    transitions: tuple[tuple[float, str, str, str], ...]  # (at, old state, new state, reason), oldest first
    state: SavedState | None


def export(store: Store, now: float, mono: float, check_ids: Iterable[CheckId] | None = None) -> list[SavedCheck]:
    """The checks' (default: every check's) history and state as frozen copies, for the state file."""
    saved = []
    for check_id in store.states if check_ids is None else check_ids:
        if (s := store.states.get(check_id)) is None:
            continue  # gone in a reload meanwhile
        series = tuple(
            (name, tuple((now - (mono - t), v) for t, v in measure.series()[-SLOTS:]))
            for name, measure in s.series.items()
        )
        state = SavedState(
            s.reported, s.last, s.consecutive_failures, s.consecutive_successes, s.last_success_at, s.latch, series
        )
        newest, counts = s.history.export()
        transitions = tuple((t.at, str(t.old), str(t.new), t.reason) for t in s.transitions)
        saved.append(SavedCheck(s.check_id, newest, counts, tuple(s.recent_durations), transitions, state))
    return saved


def restore(store: Store, saved: SavedCheck, *, keep_state: bool, now: float, mono: float) -> None:
    """Put back a check's saved history (and, with `keep_state`, its state) before its first run here. Its last
    result is shown as it was; older than `stale_after` it is stale at once (no stale result passes for fresh),
    else its staleness counts from now. Call `store.restored()` after the last one."""
    state = store.states[saved.check_id]
    newest = saved.history_newest
    if newest is not None and newest <= now // state.history.slot + 1:  # none from a clock that was ahead
        state.history.restore(newest, saved.history)
    state.recent_durations.extend(saved.durations)
    for at, old, new, reason in saved.transitions:
        state.transitions.append(Transition(at, state.check_id, State(old), State(new), reason))
    kept = saved.state
    if not keep_state or kept is None or kept.last is None:
        return
    state.reported, state.latch = kept.reported, kept.latch
    state.last = replace(kept.last, component_type=state.component_type)
    state.consecutive_failures, state.consecutive_successes = kept.consecutive_failures, kept.consecutive_successes
    state.last_success_at, state.restored = kept.last_success_at, True
    state.stale = now - kept.last.finished_at > state.schedule.stale_after
    state.last_mono = mono
    if (settings := state.spec.options.forecast) is not None:
        for name, points in kept.series:
            series = state.series[name] = MeasureSeries(max(state.schedule.interval, settings.window / SLOTS))
            series.points.extend((mono - (now - t), v) for t, v in points)
