"""FastAPI dependencies: the objects the lifespan built, handed to routes as `Annotated` aliases."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from app.auth import Verifier
from app.config import Settings
from app.scheduler import Scheduler
from app.store import CheckState, Store


class Turns:
    """Heavy reads (a /health document over many checks) take turns, one per event-loop iteration.

    Without this, a burst of N requests renders N documents back to back in one iteration, and a check whose
    reply arrived meanwhile waits behind all of them (long enough, under load, to miss its socket timeout or to
    hold its pool connection too long). The lock is FIFO; the yield inside it lets pending I/O run first.
    """

    def __init__(self) -> None:
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        async with self._lock:
            await asyncio.sleep(0)
            yield


class NotFound(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def get_store(request: Request) -> Store:
    return request.app.state.store  # type: ignore[no-any-return]


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_scheduler(request: Request) -> Scheduler:
    return request.app.state.scheduler  # type: ignore[no-any-return]


def get_verifier(request: Request) -> Verifier:
    return request.app.state.verifier  # type: ignore[no-any-return]


def get_turns(request: Request) -> Turns:
    return request.app.state.turns  # type: ignore[no-any-return]


StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SchedulerDep = Annotated[Scheduler, Depends(get_scheduler)]
VerifierDep = Annotated[Verifier, Depends(get_verifier)]
TurnsDep = Annotated[Turns, Depends(get_turns)]


def select(store: Store, component: str | None = None, check: str | None = None) -> list[CheckState]:
    """The checks a path names; NotFound (404) for an unknown component or check."""
    if component is None:
        return list(store.states.values())
    states = store.component(component)
    if not states:
        raise NotFound(f"unknown component {component!r}")
    if check is None:
        return states
    state = store.get(component, check)
    if state is None:
        raise NotFound(f"unknown check {check!r} in component {component!r}")
    return [state]
