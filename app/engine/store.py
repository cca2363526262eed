"""The result store: per check the latest result, hysteresis state, bounded history and counters.

The scheduler is its only writer (`record`, `mark_stale`); probes, /health, metrics and the CLI read it.
Readiness is kept as a ready-made flag so /readyz answers without looking at any check.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from app import units
from app.config.fields import Schedule, Severity
from app.config.specs import CheckSpec
from app.engine.forecast import SLOTS, Forecast, MeasureSeries, predict, with_forecast
from app.engine.history import History
from app.engine.hysteresis import Latch, apply_latch, reported_state
from app.engine.readiness import verdict
from app.model import CheckId, CheckResult, State, Status

DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, math.inf)
TRANSITIONS_KEPT = 20
RECENT_DURATIONS = 60  # run durations kept per check, for a sparkline


@dataclass(frozen=True, slots=True)
class Transition:
    at: float  # wall clock
    check_id: CheckId
    old: State  # pending before the first reported state
    new: State
    reason: str


@dataclass(frozen=True, slots=True)
class Unconfirmed:
    """A latest run that hysteresis holds back: `runs` of the `needed` runs in a row before its status is reported."""

    status: Status
    runs: int
    needed: int


@dataclass(eq=False)
class CheckState:
    """What the store knows about one check. Mutated only through Store."""

    spec: CheckSpec
    history: History
    last: CheckResult | None = None
    last_mono: float | None = None  # loop time the last result arrived, for the staleness watchdog
    reported: Status | None = None  # after hysteresis; None until the first result
    stale: bool = False
    consecutive_failures: int = 0
    consecutive_successes: int = 0
    last_success_at: float | None = None
    lag: float = 0.0  # how late the last scheduled run started
    unjudged: int = 0  # scheduled runs Vigil was too late to judge (its own loop stalled): not results, not history
    runs: dict[Status, int] = field(default_factory=lambda: dict.fromkeys(Status, 0))
    duration_counts: list[int] = field(default_factory=lambda: [0] * len(DURATION_BUCKETS))
    duration_sum: float = 0.0
    transitions: deque[Transition] = field(default_factory=lambda: deque(maxlen=TRANSITIONS_KEPT))
    recent_durations: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT_DURATIONS))
    latch: Latch | None = None
    series: dict[str, MeasureSeries] = field(default_factory=dict)  # limited measures' recent history
    forecast: Forecast | None = None  # the soonest predicted breach, if any

    @property
    def check_id(self) -> CheckId:
        return self.spec.id

    @property
    def component(self) -> str:
        return self.spec.id.component

    @property
    def check(self) -> str:
        return self.spec.id.check

    @property
    def component_type(self) -> str:
        return self.spec.type.name

    @property
    def schedule(self) -> Schedule:
        return self.spec.schedule

    @property
    def severity(self) -> Severity:
        return self.spec.schedule.severity

    @property
    def critical(self) -> bool:
        return self.spec.critical

    @property
    def effective(self) -> Status | None:
        """The state readers see: the reported state, or fail once the last result went stale."""
        if self.stale:
            return Status.FAIL
        return self.reported

    @property
    def effective_output(self) -> str:
        if self.last is None:
            return "pending: not run yet"
        if self.stale:
            return f"stale: no result for over {units.span(self.schedule.stale_after)} (last: {self.last.output})"
        return self.last.output

    @property
    def state_name(self) -> State:
        return State.of(self.effective)

    @property
    def unconfirmed(self) -> Unconfirmed | None:
        """The latest run's status where hysteresis does not report it (yet), or None when they agree."""
        last = self.last
        if last is None or self.stale:
            return None
        reported = self.reported
        if not last.status.ok and reported is not None and reported.ok:
            return Unconfirmed(last.status, self.consecutive_failures, self.schedule.failure_threshold)
        if last.status.ok and (reported is None or not reported.ok):
            return Unconfirmed(last.status, self.consecutive_successes, self.schedule.success_threshold)
        return None


class Store:
    def __init__(self, specs: Iterable[CheckSpec], history: float = 86400.0) -> None:
        self.history_span = history
        self.states: dict[CheckId, CheckState] = {}
        for spec in specs:
            self.states[spec.id] = CheckState(spec, History(history))
        self.by_component: dict[str, list[CheckState]] = {}
        for state in self.states.values():
            self.by_component.setdefault(state.component, []).append(state)
        self.reload_ok = True  # whether the last configuration reload was applied (startup counts as one)
        self.reload_success_at = time.time()  # wall clock of the last configuration applied
        self._recent: deque[Transition] = deque(maxlen=TRANSITIONS_KEPT)  # across all checks, oldest first
        self.version = 0  # bumped by every write: readers cache what they derive from the store per version
        self.heartbeat = time.monotonic()  # the scheduler's watchdog beats here; /livez reads it
        self.shutting_down = False
        self.startup_complete = not self.states
        self.ready = False  # all critical checks reported ok, and not shutting down
        self.verdict = Status.FAIL  # the readiness rule's verdict over every check (pass, warn, or fail: not ready)
        self.verdict_since = time.time()  # wall clock since which `verdict` holds
        self._recompute_ready()

    # -- writers (the scheduler only) --------------------------------------------------------------

    def record(self, result: CheckResult, mono: float) -> tuple[CheckResult, Transition | None]:
        """Keep `result`; returns the result as kept (a latched failure rewrites it) and the transition, if any."""
        state = self.states[result.check_id]
        self.version += 1
        result, state.latch = apply_latch(state.latch, result, state.schedule.failure_threshold)
        result = self._apply_forecast(state, result, mono)
        before = state.state_name
        state.last = result
        state.last_mono = mono
        state.stale = False
        state.runs[result.status] += 1
        state.duration_sum += result.duration
        for i, bound in enumerate(DURATION_BUCKETS):
            if result.duration <= bound:
                state.duration_counts[i] += 1
                break
        state.history.add(result.finished_at, result.status)
        state.recent_durations.append(result.duration)
        if result.status.ok:
            state.consecutive_successes += 1
            state.consecutive_failures = 0
            state.last_success_at = result.finished_at
        else:
            state.consecutive_failures += 1
            state.consecutive_successes = 0
        if result.latch is not None:
            state.reported = Status.FAIL
        else:
            state.reported = reported_state(
                state.reported,
                result.status,
                state.consecutive_failures,
                state.consecutive_successes,
                state.schedule,
            )
        if not self.startup_complete:
            self.startup_complete = all(s.last is not None for s in self.states.values())
        return result, self._transition(state, before, result.output)

    def mark_stale(self, mono: float) -> list[Transition]:
        transitions = []
        for state in self.states.values():
            if state.stale or state.last_mono is None:
                continue
            if mono - state.last_mono > state.schedule.stale_after:
                before = state.state_name
                state.stale = True
                self.version += 1
                transition = self._transition(state, before, state.effective_output)
                if transition is not None:
                    transitions.append(transition)
        return transitions

    def record_unjudged(self, check_id: CheckId) -> None:
        """A scheduled run Vigil could not judge: counted apart, never a result (the SLI counts only results)."""
        self.states[check_id].unjudged += 1

    def unjudged_total(self) -> int:
        return sum(state.unjudged for state in self.states.values())

    def set_lag(self, check_id: CheckId, lag: float) -> None:
        self.states[check_id].lag = lag

    def begin_shutdown(self) -> None:
        self.shutting_down = True
        self._recompute_ready()
        self.version += 1

    def beat(self) -> None:
        self.heartbeat = time.monotonic()

    def adopt(self, specs: Iterable[CheckSpec], changed: Iterable[CheckId]) -> None:
        """The checks of a reloaded configuration, in its order. A check it still has keeps its state, counts and
        history; one in `changed` runs differently now, so what it derived from its old runs (a latched failure,
        forecast series) is dropped. A new check is pending; a check no longer configured is forgotten."""
        for check_id in changed:
            state = self.states[check_id]
            state.latch, state.forecast = None, None
            state.series.clear()
        old, self.states = self.states, {}
        for spec in specs:
            state = old.get(spec.id) or CheckState(spec, History(self.history_span))
            state.spec = spec
            self.states[spec.id] = state
        self.by_component = {}
        for state in self.states.values():
            self.by_component.setdefault(state.component, []).append(state)
        kept = [t for t in self._recent if t.check_id in self.states]
        self._recent.clear()
        self._recent.extend(kept)
        self.version += 1
        self._recompute_ready()

    # -- internals ---------------------------------------------------------------------------------

    @staticmethod
    def _apply_forecast(state: CheckState, result: CheckResult, mono: float) -> CheckResult:
        """Keep each limited value's history; a passing check whose value reaches its limit within the horizon
        at the current rate becomes a warn saying when. Never a fail from a forecast, none for a failing check.

        The series runs on the monotonic clock (`mono`): a step of the wall clock (NTP) neither withdraws a live
        forecast nor bends its rate."""
        settings = state.spec.options.forecast
        if settings is None:
            return result
        slot = max(state.schedule.interval, settings.window / SLOTS)
        forecasts = []
        for observation in result.observed:
            value = observation.value
            if observation.limit is None or isinstance(value, bool) or not isinstance(value, int | float):
                continue
            series = state.series.setdefault(observation.name, MeasureSeries(slot))
            series.add(mono, float(value))
            if result.status is not Status.FAIL:
                found = predict(
                    observation.name,
                    observation.limit,
                    series.series(),
                    window=settings.window,
                    horizon=settings.horizon,
                )
                if found is not None:
                    forecasts.append((found, observation.unit))
        result, state.forecast = with_forecast(result, forecasts, settings.window)
        return result

    def _transition(self, state: CheckState, before: State, reason: str) -> Transition | None:
        after = state.state_name
        if after == before:
            return None
        transition = Transition(time.time(), state.check_id, before, after, reason)
        state.transitions.append(transition)
        self._recent.append(transition)
        self._recompute_ready()
        return transition

    def _recompute_ready(self) -> None:
        status = verdict(((s.effective, s.severity) for s in self.states.values()), shutting_down=self.shutting_down)
        if status is not self.verdict:
            self.verdict, self.verdict_since = status, time.time()
        self.ready = status is not Status.FAIL

    # -- readers -----------------------------------------------------------------------------------

    def get(self, check_id: CheckId) -> CheckState | None:
        return self.states.get(check_id)

    def component(self, component: str) -> list[CheckState]:
        return self.by_component.get(component, [])

    def recent_transitions(self, limit: int = TRANSITIONS_KEPT) -> list[Transition]:
        """The latest transitions across all checks, newest first."""
        return list(reversed(self._recent))[:limit]
