"""create_app(settings): builds store, scheduler, verifier and metrics exposition, wires the routers.

The lifespan starts the scheduler and stops it (cancelling runs, closing clients) on shutdown. Given how to load
the configuration again, it also reloads on SIGHUP, on `POST /-/reload` and, when watching, on a file change.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from app import __version__
from app.api import errors, health, metrics, openapi, probes, reload, runs, status
from app.api.auth import Verifier
from app.api.deps import Services, Turns
from app.api.front import Front
from app.api.statuscache import StatusCache
from app.config.settings import Settings
from app.config.specs import CheckSpec, resolve
from app.engine.reload import Reloader
from app.engine.scheduler import Scheduler
from app.engine.store import Store
from app.engine.watch import Watcher
from app.logs import remask
from app.masking import Scrubber
from app.views.metrics import build_exposition
from app.views.report import EntryMemo


def build_engine(
    settings: Settings, specs: list[CheckSpec] | None = None, *, seed: int | None = None
) -> tuple[Store, Scheduler]:
    """The store and the scheduler for `specs` (default: every configured check); the CLI builds the same pair."""
    specs = resolve(settings) if specs is None else specs
    store = Store(specs, history=settings.defaults.history)
    scrubber = Scrubber(settings.secret_values())
    scheduler = Scheduler(specs, store, scrubber, jitter=settings.defaults.jitter, seed=seed)
    return store, scheduler


def create_app(
    settings: Settings, load: Callable[[], Settings] | None = None, config_file: Path | None = None
) -> Front:
    """The app for `settings`. `load` reads the configuration again as startup did (reloads are off without it);
    `config_file` is the file to watch when `reload.watch` is on."""
    store, scheduler = build_engine(settings)
    exposition = build_exposition(store)

    def adopt(new: Settings, mask: Scrubber) -> None:
        # Readers get the new settings and fresh caches: a changed check's cached entries and rows are outdated.
        services = app.state.services
        app.state.services = replace(
            services, settings=new, verifier=Verifier(new.auth), entries=EntryMemo(), status=StatusCache()
        )
        exposition.forget()
        remask(mask)

    watched = None if load is None or config_file is None else Watcher(config_file)
    reloader = None
    if load is not None:
        reloader = Reloader(settings, load, store, scheduler, adopt, watched.mark if watched else lambda: None)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await scheduler.start()
        loop = asyncio.get_running_loop()
        watcher = None
        if reloader is not None:
            loop.add_signal_handler(signal.SIGHUP, reloader.signalled)
            if watched is not None:
                watcher = loop.create_task(
                    watched.run(lambda: reloader.settings.reload, lambda: reloader.reload("file changed")),
                    name="config watcher",
                )
        try:
            yield
        finally:
            if reloader is not None:
                loop.remove_signal_handler(signal.SIGHUP)
                reloader.close()
            if watcher is not None:
                watcher.cancel()
            # Half the shutdown budget: the CLI spends the rest draining readiness and in-flight requests.
            await scheduler.stop(grace=settings.server.shutdown_grace / 2)
            exposition.close()

    # FastAPIOffline serves Swagger UI and ReDoc from assets in the package: /docs works in an air-gapped cluster.
    app = FastAPIOffline(
        title="Vigil",
        version=__version__,
        description="Health checks and readiness for a system's dependencies.",
        lifespan=lifespan,
    )
    app.state.services = Services(
        settings, store, scheduler, Verifier(settings.auth), Turns(), EntryMemo(), reloader=reloader
    )
    app.state.exposition = exposition
    for module in (probes, health, runs, status, metrics, reload):
        app.include_router(module.router)
    errors.install(app)
    openapi.install(app)
    return Front(app, store)
