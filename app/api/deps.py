"""FastAPI dependencies: the objects the lifespan built, handed to routes as `Annotated` aliases."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Header, Request

from app.api.auth import Verifier
from app.api.details import Details, details_for
from app.api.statuscache import StatusCache
from app.api.turns import Turns as Turns  # re-exported: create_app builds one
from app.config.settings import Settings
from app.engine.reload import Reloader
from app.engine.scheduler import Scheduler
from app.engine.store import CheckState, Store
from app.model import CheckId
from app.views.report import EntryMemo


class NotFound(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Services:
    """What the lifespan built for one app; create_app hands it to the routes (no module-level state)."""

    settings: Settings
    store: Store
    scheduler: Scheduler
    verifier: Verifier
    turns: Turns
    entries: EntryMemo  # /health's encoded per-check members
    status: StatusCache = field(default_factory=StatusCache)  # /status.json's documents
    reloader: Reloader | None = None  # None when the app was not started from a configuration it can read again


def get_services(request: Request) -> Services:
    services = request.app.state.services
    if not isinstance(services, Services):  # create_app sets it; anything else is a wiring bug
        raise TypeError("app.state.services is not set: build the app with create_app()")
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def _store(services: ServicesDep) -> Store:
    return services.store


def _settings(services: ServicesDep) -> Settings:
    return services.settings


def _scheduler(services: ServicesDep) -> Scheduler:
    return services.scheduler


def _verifier(services: ServicesDep) -> Verifier:
    return services.verifier


def _turns(services: ServicesDep) -> Turns:
    return services.turns


def _entries(services: ServicesDep) -> EntryMemo:
    return services.entries


def details(services: ServicesDep, authorization: Annotated[str | None, Header()] = None) -> Details:
    """Dependency: what this request's caller may see, by `details_for`."""
    return details_for(services.settings, services.verifier, authorization)


DetailsDep = Annotated[Details, Depends(details)]
StoreDep = Annotated[Store, Depends(_store)]
SettingsDep = Annotated[Settings, Depends(_settings)]
SchedulerDep = Annotated[Scheduler, Depends(_scheduler)]
VerifierDep = Annotated[Verifier, Depends(_verifier)]
TurnsDep = Annotated[Turns, Depends(_turns)]
EntriesDep = Annotated[EntryMemo, Depends(_entries)]


def select(store: Store, component: str | None = None, check: str | None = None) -> list[CheckState]:
    """The checks a path names; NotFound (404) for an unknown component or check."""
    if component is None:
        return list(store.states.values())
    states = store.component(component)
    if not states:
        raise NotFound(f"unknown component {component!r}")
    if check is None:
        return states
    state = store.get(CheckId(component, check))
    if state is None:
        raise NotFound(f"unknown check {check!r} in component {component!r}")
    return [state]
