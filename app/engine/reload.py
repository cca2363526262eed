"""Reloading the configuration of a running Vigil: read it again from the same sources, validate it in full, and
apply only what changed (app.engine.changes): unchanged checks keep everything, a refused configuration nothing.

SIGHUP, `POST /-/reload` and the file watcher all come here; one reload runs at a time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from app.config.problems import ConfigError, ConfigProblem
from app.config.settings import Settings
from app.config.specs import resolve
from app.engine.changes import Plan, effective, plan, restart_only_changes
from app.engine.scheduler import Scheduler
from app.engine.store import Store
from app.masking import Scrubber

log = logging.getLogger("vigil.reload")


class Busy(Exception):
    """Another reload is running (the HTTP endpoint answers 409 rather than queue behind it)."""


@dataclass(frozen=True, slots=True)
class Report:
    """How one reload went: refused with its problems, or applied with what it changed."""

    problems: tuple[ConfigProblem, ...] = ()
    plan: Plan | None = None
    needs_restart: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def document(self) -> dict[str, Any]:
        if not self.ok or self.plan is None:
            return {"error": "invalid_config", "detail": [str(problem) for problem in self.problems]}
        return {"status": "reloaded", **self.plan.summary(), "needs_restart": list(self.needs_restart)}


@dataclass
class Reloader:
    """Holds the settings in use; `reload` replaces them. `load` reads the configuration as startup did, `apply`
    hands the new settings and scrubber to the readers (the API's services, the log mask)."""

    settings: Settings
    load: Callable[[], Settings]
    store: Store
    scheduler: Scheduler
    apply: Callable[[Settings, Scrubber], None] = lambda settings, scrubber: None
    before_load: Callable[[], None] = lambda: None  # the watcher marks the file it is about to read
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _signalled: set[asyncio.Task[Report]] = field(default_factory=set)
    _thread: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="vigil-reload")
    )

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    async def reload(self, cause: str, *, wait: bool = True) -> Report:
        """Reload now; with `wait` False, raise Busy instead of waiting for a reload in progress."""
        if not wait and self._lock.locked():
            raise Busy
        async with self._lock:
            return await self._reload(cause)

    def close(self) -> None:
        for task in self._signalled:
            task.cancel()
        self._thread.shutdown(wait=False, cancel_futures=True)

    def signalled(self, cause: str = "SIGHUP") -> None:
        """From a signal handler: reload after any reload in progress."""
        task = asyncio.get_running_loop().create_task(self.reload(cause), name="reload")
        self._signalled.add(task)
        task.add_done_callback(self._signalled.discard)

    async def _reload(self, cause: str) -> Report:
        self.before_load()
        try:
            # Off the loop, on a thread of its own (name lookups that hang may hold the default executor's): reading
            # and validating a large configuration takes a while, and probes must not wait.
            loaded = await asyncio.get_running_loop().run_in_executor(self._thread, self.load)
        except ConfigError as exc:
            return self._refuse(cause, exc.entries)
        except Exception as exc:  # a bug in the loader: logged with its traceback, refused like a bad config
            log.exception("reading the configuration failed")
            return self._refuse(cause, [ConfigProblem("config", f"could not be read ({type(exc).__name__})")])
        if not any(component.checks for component in loaded.components.values()):
            return self._refuse(cause, [ConfigProblem("components", "no checks are configured")])
        if self.store.shutting_down:
            return self._refuse(cause, [ConfigProblem("", "Vigil is shutting down")])
        running = self.settings
        settings = effective(running, loaded)
        specs = resolve(settings)
        changes = plan((state.spec for state in self.store.states.values()), specs)
        restart = tuple(restart_only_changes(running, loaded))
        # Outputs of retired runs finishing now may still quote an old secret: the log mask keeps both sets.
        scrubber = Scrubber(settings.secret_values())
        log_mask = Scrubber(sorted({*running.secret_values(), *settings.secret_values()}, key=len, reverse=True))
        self.store.adopt(specs, [spec.id for spec in changes.changed])
        self.scheduler.reschedule(specs, changes, scrubber, settings.defaults.jitter)
        self.settings = settings
        self.apply(settings, log_mask)
        self.store.reload_ok, self.store.reload_success_at = True, time.time()
        log.info(
            "configuration reloaded (%s): %d added, %d changed, %d removed, %d unchanged",
            cause,
            len(changes.added),
            len(changes.changed),
            len(changes.removed),
            len(changes.unchanged),
        )
        if restart:
            log.warning(
                "configuration reload (%s): %s changed and takes effect only after a restart; the running value is kept",
                cause,
                ", ".join(restart),
            )
        return Report(plan=changes, needs_restart=restart)

    def _refuse(self, cause: str, problems: list[ConfigProblem]) -> Report:
        # Problems name fields, not values; masked all the same (a URL's password, a secret in use) for the answer.
        scrub = Scrubber(self.settings.secret_values())
        problems = [ConfigProblem(p.path, scrub.text(p.message)) for p in problems]
        self.store.reload_ok = False
        self.store.version += 1
        log.error(
            "configuration reload (%s) refused; the running configuration is kept: %s",
            cause,
            "; ".join(str(problem) for problem in problems),
        )
        return Report(problems=tuple(problems))
