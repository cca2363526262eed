"""The engine: one asyncio task per check (jitter, deadline, single-flight) plus a staleness watchdog.

It builds each component's client, runs checks under their timeouts, turns every exception into a clean
`fail`, and is the only writer of the result store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from typing import Any

from app.checks import COMPONENT_TYPES, CheckContext, ComponentType
from app.config import Scrubber, Settings
from app.model import CheckResult, Observation, Outcome, Status
from app.singleflight import SingleFlight
from app.store import Store, Transition

log = logging.getLogger("vigil.scheduler")

WATCHDOG_PERIOD = 0.5  # seconds between staleness sweeps and liveness heartbeats


class Runner:
    """One check: runs it under its deadline, shares an in-flight run between callers, records the result."""

    def __init__(
        self,
        settings: Settings,
        component: str,
        check: str,
        client: Any,
        store: Store,
        scrubber: Scrubber,
    ) -> None:
        self.component = component
        self.check = check
        self.component_config = settings.components[component]
        self.ctype: ComponentType = COMPONENT_TYPES[self.component_config.type]
        self.options = settings.check_config(component, check)
        self.schedule = settings.schedule(component, check)
        self.fn = self.ctype.check_fn(self.options)
        self.client = client
        self.store = store
        self.scrubber = scrubber
        self.memo: dict[str, Any] = {}
        self._flight: SingleFlight[CheckResult] = SingleFlight()

    @property
    def check_id(self) -> str:
        return f"{self.component}:{self.check}"

    @property
    def busy(self) -> bool:
        return self._flight.inflight is not None

    async def run(self, scheduled: bool = True) -> CheckResult:
        """Run now, or join the run already in flight (single-flight)."""
        return await self._flight.do(lambda: self._execute(scheduled))

    def cancel(self) -> asyncio.Future[CheckResult] | None:
        """Cancel the run in flight, if any (shutdown); returns it to wait on."""
        return self._flight.cancel()

    async def _execute(self, scheduled: bool) -> CheckResult:
        loop = asyncio.get_running_loop()
        started_wall = time.time()
        started = loop.time()
        deadline = started + self.schedule.timeout
        ctx = CheckContext(
            component_name=self.component,
            component=self.component_config,
            check_name=self.check,
            options=self.options,
            schedule=self.schedule,
            client=self.client,
            deadline=deadline,
            memo=self.memo,
        )
        timer = asyncio.timeout_at(deadline)
        try:
            async with timer:
                outcome = await self.fn(ctx)
        except TimeoutError as exc:
            if timer.expired():
                outcome = Outcome(Status.FAIL, f"timed out after {self.schedule.timeout:g}s")
            else:
                outcome = Outcome(Status.FAIL, self.describe(exc))
        except Exception as exc:  # a check that raises is a fail whose output names the cause
            outcome = Outcome(Status.FAIL, self.describe(exc))
        finished = loop.time()
        result = CheckResult(
            component=self.component,
            check=self.check,
            component_type=self.ctype.name,
            status=outcome.status,
            output=self.scrubber.text(outcome.output),
            observed=tuple(self._scrub_observation(o) for o in outcome.observed),
            started_at=started_wall,
            duration=finished - started,
            scheduled=scheduled,
        )
        transition = self.store.record(result, finished)
        if transition is not None:
            log_transition(transition)
        return result

    def describe(self, exc: BaseException) -> str:
        text = self.ctype.describe_error(exc)
        if text is None:
            message = str(exc).strip()
            text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
        return self.scrubber.text(text)[:500]

    def _scrub_observation(self, observation: Observation) -> Observation:
        if isinstance(observation.value, str):
            return Observation(observation.name, self.scrubber.text(observation.value), observation.unit)
        return observation


def log_transition(transition: Transition) -> None:
    level = logging.INFO if transition.new in ("pass", "warn") else logging.WARNING
    log.log(
        level,
        "check %s %s -> %s: %s",
        transition.check_id,
        transition.old,
        transition.new,
        transition.reason,
        extra={"check": transition.check_id, "old": transition.old, "new": transition.new, "reason": transition.reason},
    )


class Scheduler:
    """Owns the clients, the runners and their tasks. `start` in the app's lifespan, `stop` on shutdown."""

    def __init__(self, settings: Settings, store: Store, scrubber: Scrubber, *, seed: int | None = None) -> None:
        self.settings = settings
        self.store = store
        self.scrubber = scrubber
        self.clients: dict[str, Any] = {}
        self.runners: dict[tuple[str, str], Runner] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._random = random.Random(seed)
        self._last_run_at: dict[tuple[str, str], float] = {}

    def build(self) -> None:
        """Create clients and runners (no I/O: clients connect lazily on first use)."""
        for name, component in self.settings.components.items():
            ctype = COMPONENT_TYPES[component.type]
            self.clients[name] = ctype.open_client(component)
            for check in component.checks:
                self.runners[(name, check)] = Runner(
                    self.settings, name, check, self.clients[name], self.store, self.scrubber
                )

    async def start(self) -> None:
        if not self.runners and not self.clients:
            self.build()
        loop = asyncio.get_running_loop()
        for runner in self.runners.values():
            self._tasks.append(loop.create_task(self._loop(runner), name=f"schedule {runner.check_id}"))
        self._tasks.append(loop.create_task(self._watchdog(), name="watchdog"))

    async def _loop(self, runner: Runner) -> None:
        loop = asyncio.get_running_loop()
        schedule = runner.schedule
        # First runs come soon (spread over `jitter` of the interval) so startup is quick; after that each
        # check settles on a random phase of the whole interval, so N checks sharing a pool run at a steady
        # N/interval per second instead of in one burst per interval (Prometheus spreads scrapes the same way).
        spread = self._random.uniform(0, self.settings.defaults.jitter * schedule.interval)
        next_at = loop.time() + schedule.initial_delay + spread
        gap = schedule.interval * self._random.uniform(0.05, 1.0)  # first to second run: a random phase
        while True:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            self.store.set_lag(runner.component, runner.check, max(0.0, loop.time() - next_at))
            try:
                await runner.run(scheduled=True)
            except Exception:  # defensive: _execute maps check errors, so this is a bug in Vigil itself
                log.exception("scheduler error in %s", runner.check_id)
            next_at += gap
            gap = schedule.interval
            if next_at < loop.time():  # we fell behind (a long run): skip, do not burst
                next_at = loop.time()

    async def _watchdog(self) -> None:
        while True:
            self.store.beat()
            for transition in self.store.mark_stale(asyncio.get_running_loop().time()):
                log_transition(transition)
            await asyncio.sleep(WATCHDOG_PERIOD)

    async def run_now(self, keys: list[tuple[str, str]], cooldown: float) -> list[tuple[CheckResult, bool]]:
        """Run the given checks on demand, concurrently. A caller arriving while a run is in flight joins it;
        a check run on demand less than `cooldown` ago returns its last result (flagged True) instead, so
        callers cannot hammer the targets."""

        async def one(key: tuple[str, str]) -> tuple[CheckResult, bool]:
            runner = self.runners[key]
            if runner.busy:
                return await runner.run(scheduled=False), False
            state = self.store.states[key]
            last_demand = self._last_run_at.get(key)
            now = time.monotonic()
            if state.last is not None and last_demand is not None and now - last_demand < cooldown:
                return state.last, True
            self._last_run_at[key] = now
            return await runner.run(scheduled=False), False

        return list(await asyncio.gather(*(one(key) for key in keys)))

    async def stop(self, grace: float = 2.0) -> None:
        """Cancel the loops and in-flight runs, then close every client within `grace` seconds."""
        self.store.begin_shutdown()
        for task in self._tasks:
            task.cancel()
        pending: list[asyncio.Future[Any]] = list(self._tasks)
        pending.extend(future for runner in self.runners.values() if (future := runner.cancel()) is not None)
        if pending:
            await asyncio.wait(pending, timeout=grace / 2)
        self._tasks.clear()
        closers = [COMPONENT_TYPES[self.settings.components[name].type].close_client(c) for name, c in self.clients.items()]
        if closers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.gather(*closers, return_exceptions=True), timeout=grace / 2)
