"""The engine: one asyncio task per check (jitter, deadline, single-flight) plus a staleness watchdog.

It builds each component's client, runs checks under their timeouts, turns every exception into a clean
`fail`, and is the only writer of the result store.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from app import units
from app.checks.base import CheckContext
from app.config.specs import CheckSpec
from app.engine.changes import Plan
from app.engine.closing import close_after, close_clients
from app.engine.singleflight import SingleFlight
from app.engine.stalls import StallClock
from app.engine.store import Store, Transition
from app.masking import Scrubber
from app.model import CheckId, CheckResult, Observation, Outcome, Status
from app.text import printable

log = logging.getLogger("vigil.scheduler")

WATCHDOG_PERIOD = 0.5  # seconds between staleness sweeps and liveness heartbeats
OUTPUT_LIMIT = 4000  # characters of a check's output kept: the readers show one line per check
OBSERVED_TEXT_LIMIT = 256  # characters of a text observation kept (a version, a protocol)
FIRST_RUN_SPREAD = 10.0  # seconds: first runs spread over `jitter` of the interval, but never over more than this
FIRST_RUN_RATE = 100.0  # first runs per second at most, process-wide (within FIRST_RUN_SPREAD)
# A failed scheduled run is not judged when Vigil's own event loop was stalled for this share of the run's time
# (and at least UNJUDGED_MIN_STALL): a wait that timed out, a pool that stayed busy, while Vigil itself could not run.
UNJUDGED_SHARE = 0.2
UNJUDGED_MIN_STALL = 0.05  # seconds
UNJUDGED_REPORT_PERIOD = 60.0  # seconds between the log lines that count runs Vigil could not judge
FAILED_RUN = "run of %s failed after %s, the event loop stalled for %s of it: %s"  # debug: what a counted fail was


class Runner:
    """One check: runs it under its deadline, shares an in-flight run between callers, records the result."""

    def __init__(
        self, spec: CheckSpec, client: Any, store: Store, scrubber: Scrubber, stalls: StallClock | None = None
    ) -> None:
        self.spec = spec
        self.client = client
        self.store = store
        self.scrubber = scrubber
        self.stalls = stalls
        self.memo: Any = spec.kind.memo()
        self.retired = False  # a reload removed or changed its check: a run still in flight is not recorded
        self._flight: SingleFlight[CheckResult] = SingleFlight()

    @property
    def check_id(self) -> CheckId:
        return self.spec.id

    @property
    def busy(self) -> bool:
        return self._flight.inflight is not None

    @property
    def flight(self) -> asyncio.Future[CheckResult] | None:
        return self._flight.inflight

    async def run(self, scheduled: bool = True) -> CheckResult:
        """Run now, or join the run already in flight (single-flight)."""
        return await self._flight.do(lambda: self._execute(scheduled))

    def cancel(self) -> asyncio.Future[CheckResult] | None:
        """Cancel the run in flight, if any (shutdown); returns it to wait on."""
        return self._flight.cancel()

    async def _execute(self, scheduled: bool) -> CheckResult:
        spec = self.spec
        loop = asyncio.get_running_loop()
        started_wall = time.time()
        # The duration by the performance counter: uvloop's loop clock ticks in whole milliseconds.
        started = time.perf_counter()
        deadline = loop.time() + spec.schedule.timeout
        stalled_before = self.stalls.stalled() if self.stalls is not None else 0.0
        ctx = CheckContext(spec.id, spec.component, spec.options, spec.schedule, self.client, deadline, self.memo)
        timer = asyncio.timeout_at(deadline)
        try:
            async with timer:
                outcome = await spec.kind.run(ctx)
        except TimeoutError as exc:
            if timer.expired():
                outcome = Outcome(Status.FAIL, timed_out(spec.schedule.timeout))
            else:
                outcome = Outcome(Status.FAIL, self.describe(exc))
        except Exception as exc:  # a check that raises is a fail whose output names the cause
            outcome = Outcome(Status.FAIL, self.describe(exc))
        duration = time.perf_counter() - started
        result = CheckResult(
            component=spec.id.component,
            check=spec.id.check,
            component_type=spec.type.name,
            status=outcome.status,
            output=printable(self.scrubber.text(outcome.output), OUTPUT_LIMIT),
            observed=tuple(self._scrub_observation(o) for o in outcome.observed),
            started_at=started_wall,
            duration=duration,
            scheduled=scheduled,
            latch=None if outcome.latch is None else printable(self.scrubber.text(outcome.latch), OUTPUT_LIMIT),
        )
        if self.retired:
            return result
        if scheduled and outcome.status is Status.FAIL and self.stalls is not None:
            lost = self.stalls.stalled() - stalled_before
            if lost >= max(UNJUDGED_MIN_STALL, UNJUDGED_SHARE * duration):
                # Vigil itself was too late to judge this run (CPU throttling, a starved host): counted on its own,
                # never as the target's failure; the next run judges it.
                self.store.record_unjudged(spec.id)
                log.debug("run of %s not judged: the event loop stalled for %s of it", spec.id, units.latency(lost))
                return result
            took, stalled = units.latency(duration), units.latency(lost)  # a failure that counts, and Vigil's loss
            log.debug(FAILED_RUN, spec.id, took, stalled, result.output)
        recorded, transition = self.store.record(result, loop.time())
        if transition is not None:
            log_transition(transition)
        return recorded

    def describe(self, exc: BaseException) -> str:
        """The type's wording of an error; an error no type knows is a bug in Vigil, logged with its traceback."""
        text = self.spec.type.describe_error(exc)
        if text is None:
            log.error("unexpected error in check %s", self.check_id, exc_info=exc)
            message = str(exc).strip()
            text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
        return self.scrubber.text(text)[:500]

    def _scrub_observation(self, observation: Observation) -> Observation:
        """An observation as the store may keep it: text masked and printable, a number finite (a NaN or an
        infinity a target wrote is no measure: kept as None, never exported)."""
        value = observation.value
        if isinstance(value, str):
            return Observation(
                observation.name, printable(self.scrubber.text(value), OBSERVED_TEXT_LIMIT), observation.unit
            )
        if isinstance(value, float) and not math.isfinite(value):
            return Observation(observation.name, None, observation.unit, observation.limit)
        return observation


def timed_out(timeout: float) -> str:
    """The one wording of a run that hit its check's timeout (a configured duration, as configured)."""
    return f"timed out after {units.span(timeout)}"


def log_transition(transition: Transition) -> None:
    level = logging.INFO if transition.new in ("pass", "warn") else logging.WARNING
    log.log(
        level,
        "check %s %s -> %s: %s",
        transition.check_id,
        transition.old,
        transition.new,
        transition.reason,
        extra={
            "check": str(transition.check_id),
            "old": transition.old,
            "new": transition.new,
            "reason": transition.reason,
        },
    )


class Scheduler:
    """Owns the clients, the runners and their tasks. `start` in the app's lifespan, `stop` on shutdown."""

    def __init__(
        self,
        specs: list[CheckSpec],
        store: Store,
        scrubber: Scrubber,
        *,
        jitter: float = 0.1,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.specs = specs
        self.store = store
        self.scrubber = scrubber
        self.jitter = jitter  # first runs spread over this fraction of the interval
        self.clients: dict[str, Any] = {}  # component name -> its client, shared by its checks
        self._closers: dict[str, Callable[[Any], Awaitable[None]]] = {}
        self.runners: dict[CheckId, Runner] = {}
        self._loops: dict[CheckId, asyncio.Task[None]] = {}  # each runner's schedule
        self._tasks: list[asyncio.Task[None]] = []  # the watchdog, the stall clock, clients closing after a reload
        self._retired: set[Runner] = set()  # retired by a reload with a run still in flight
        self.started = False
        self._random = random.Random(seed)
        self._last_run_at: dict[CheckId, float] = {}  # by `clock`: when each check last ran on demand
        self.clock = clock  # monotonic seconds for the on-demand cooldown (tests give a clock they advance)
        self.stalls = StallClock()

    def build(self) -> None:
        """Create clients and runners (no I/O: clients connect lazily on first use)."""
        for spec in self.specs:
            self._add(spec)

    def _add(self, spec: CheckSpec) -> Runner:
        name = spec.id.component
        if name not in self.clients:
            self.clients[name] = spec.type.open_client(spec.component)
            self._closers[name] = spec.type.close_client
        runner = self.runners[spec.id] = Runner(spec, self.clients[name], self.store, self.scrubber, self.stalls)
        return runner

    async def start(self) -> None:
        if not self.runners and not self.clients:
            self.build()
        loop = asyncio.get_running_loop()
        self.started = True
        for runner in self.runners.values():
            self._loops[runner.check_id] = loop.create_task(self._loop(runner), name=f"schedule {runner.check_id}")
        self._tasks.append(loop.create_task(self._watchdog(), name="watchdog"))
        self._tasks.append(loop.create_task(self.stalls.tick(), name="stall clock"))

    async def _loop(self, runner: Runner) -> None:
        loop = asyncio.get_running_loop()
        schedule = runner.spec.schedule
        # First runs come soon (spread over `jitter` of the interval, at most FIRST_RUN_SPREAD) so startup is
        # bounded by timeouts, not intervals: /startupz passes within initial_delay + FIRST_RUN_SPREAD + timeout
        # even for an hourly check. After that each check settles on a random phase of the whole interval, so N
        # checks sharing a pool run at a steady N/interval per second instead of in one burst per interval
        # (Prometheus spreads scrapes the same way).
        spread = self._random.uniform(0, self.first_run_window(schedule.interval))
        next_at = loop.time() + schedule.initial_delay + spread
        gap = schedule.interval * self._random.uniform(0.05, 1.0)  # first to second run: a random phase
        while True:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            self.store.set_lag(runner.check_id, max(0.0, loop.time() - next_at))
            try:
                await runner.run(scheduled=True)
            except Exception:  # _execute maps check errors, so this is a bug in Vigil itself
                log.exception("scheduler error in %s", runner.check_id)
            next_at += gap
            gap = schedule.interval
            if next_at < loop.time():  # we fell behind (a long run): skip, do not burst
                next_at = loop.time()

    def first_run_window(self, interval: float) -> float:
        """Seconds over which a check's first run is spread: `jitter` of its interval, widened so that first runs
        start at most FIRST_RUN_RATE a second (a thousand checks starting within half a second queue behind their
        components' pools and fail for Vigil's own burst, not their targets'), and never over FIRST_RUN_SPREAD,
        so startup stays bounded by timeouts whatever the intervals."""
        return min(FIRST_RUN_SPREAD, max(self.jitter * interval, len(self.runners) / FIRST_RUN_RATE))

    async def _watchdog(self) -> None:
        loop = asyncio.get_running_loop()
        reported, report_at = 0, loop.time() + UNJUDGED_REPORT_PERIOD
        while True:
            self.store.beat()
            for transition in self.store.mark_stale(loop.time()):
                log_transition(transition)
            if loop.time() >= report_at:
                unjudged = self.store.unjudged_total()
                if unjudged > reported:
                    log.warning(
                        "%d scheduled runs not judged in the last %s: Vigil's event loop was stalled for over %s "
                        "of their time (CPU throttling or a starved host?); see vigil_check_runs_unjudged_total",
                        unjudged - reported,
                        units.span(UNJUDGED_REPORT_PERIOD),
                        units.percent(UNJUDGED_SHARE),
                    )
                reported, report_at = unjudged, loop.time() + UNJUDGED_REPORT_PERIOD
            await asyncio.sleep(WATCHDOG_PERIOD)

    async def run_now(self, ids: list[CheckId], cooldown: float) -> list[tuple[CheckResult, bool]]:
        """Run the given checks on demand, concurrently. A caller arriving while a run is in flight joins it;
        a check run on demand less than `cooldown` ago returns its last result (flagged True) instead, so
        callers cannot hammer the targets."""

        runners = {check_id: self.runners[check_id] for check_id in ids}  # as they are now: a reload may follow

        async def one(check_id: CheckId) -> tuple[CheckResult, bool]:
            runner = runners[check_id]
            if runner.busy:
                return await runner.run(scheduled=False), False
            state = self.store.get(check_id)  # None when a reload removed it meanwhile
            last_demand = self._last_run_at.get(check_id)
            now = self.clock()
            if (
                state is not None
                and state.last is not None
                and last_demand is not None
                and now - last_demand < cooldown
            ):
                return state.last, True
            self._last_run_at[check_id] = now
            return await runner.run(scheduled=False), False

        return list(await asyncio.gather(*(one(check_id) for check_id in ids)))

    def reschedule(self, specs: list[CheckSpec], plan: Plan, scrubber: Scrubber, jitter: float) -> None:
        """Apply a reload's plan (after the store adopted it); app.engine.reload says what each check keeps. A retired
        run in flight ends under its own deadline, unrecorded; a client no check keeps closes after such runs."""
        self.specs, self.scrubber, self.jitter = specs, scrubber, jitter
        for spec in plan.unchanged:
            runner = self.runners[spec.id]
            runner.spec, runner.scrubber = spec, scrubber
        retiring = [self._retire(check_id) for check_id in (*plan.removed, *(spec.id for spec in plan.changed))]
        for name in [name for name in self.clients if name not in plan.kept_clients]:
            runs = [runner for runner in retiring if runner.spec.id.component == name and runner.busy]
            flights = [flight for runner in runs if (flight := runner.flight) is not None]
            longest = max((runner.spec.schedule.timeout for runner in runs), default=0.0)
            client, closer = self.clients.pop(name), self._closers.pop(name)
            closing = close_after(name, client, closer, flights, longest, self.scrubber)
            self._tasks.append(asyncio.ensure_future(closing))
        for spec in (*plan.changed, *plan.added):
            runner = self._add(spec)
            if self.started:
                self._loops[spec.id] = asyncio.get_running_loop().create_task(
                    self._loop(runner), name=f"schedule {spec.id}"
                )

    def _retire(self, check_id: CheckId) -> Runner:
        runner = self.runners.pop(check_id)
        runner.retired = True
        self._last_run_at.pop(check_id, None)
        if (loop := self._loops.pop(check_id, None)) is not None:
            loop.cancel()  # its run in flight is shielded (single-flight): it goes on to its deadline
        if (flight := runner.flight) is not None:
            self._retired.add(runner)
            flight.add_done_callback(lambda _: self._retired.discard(runner))
        return runner

    async def stop(self, grace: float = 2.0) -> None:
        """Cancel the loops and in-flight runs, then close every client within `grace` seconds."""
        self.store.begin_shutdown()
        tasks = [*self._loops.values(), *self._tasks]
        for task in tasks:
            task.cancel()
        pending: list[asyncio.Future[Any]] = list(tasks)
        runners = [*self.runners.values(), *self._retired]
        pending.extend(future for runner in runners if (future := runner.cancel()) is not None)
        if pending:
            await asyncio.wait(pending, timeout=grace / 2)
        self._loops.clear()
        self._tasks.clear()
        self.started = False
        await close_clients(self.clients, self._closers, grace / 2, self.scrubber)
