"""What a reload changes: the checks of two configurations compared by id, and the settings only a restart applies.

Pure functions over resolved CheckSpecs and Settings; app.engine.reload applies the plan to the running engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from app.config.fields import ComponentConfig
from app.config.settings import Settings
from app.config.specs import CheckSpec
from app.model import CheckId

# Settings the running process cannot take over: the listening socket and HTTP limits uvicorn was started with,
# the drain budget its signal handler holds, the log handler, this replica's shard and the history ring's length.
RESTART_ONLY: tuple[tuple[str, str], ...] = (
    ("server", "host"),
    ("server", "port"),
    ("server", "max_header_bytes"),
    ("server", "max_headers"),
    ("server", "shutdown_grace"),
    ("shard", "index"),
    ("shard", "count"),
    ("defaults", "history"),
    ("", "log_format"),
    ("", "log_level"),
)
# A component's fields that its client is not built from: a change to them keeps the client.
NOT_CONNECTION = frozenset({"checks", "depends_on"})


def connection(component: ComponentConfig) -> tuple[str, dict[str, Any]]:
    """What a component's client is built from: its type and every field but its checks and dependencies."""
    return component.type, component.model_dump(exclude=set(NOT_CONNECTION))  # secrets compare by value


def runs_alike(old: CheckSpec, new: CheckSpec) -> bool:
    """Whether a run of `new` is the same as a run of `old`: same kind, options, schedule and client settings
    (maintenance windows and dependencies are read by the readers, not by a run)."""
    return (
        old.kind is new.kind
        and old.options == new.options
        and old.schedule == new.schedule
        and connection(old.component) == connection(new.component)
    )


@dataclass(frozen=True, slots=True)
class Plan:
    """The new configuration's checks sorted by what a reload does with them (specs are the new ones)."""

    unchanged: tuple[CheckSpec, ...]  # keep everything: state, history, schedule phase, runner, client
    changed: tuple[CheckSpec, ...]  # a new schedule and runner; state and history kept
    added: tuple[CheckSpec, ...]  # start as at startup: pending, first run spread
    removed: tuple[CheckId, ...]
    kept_clients: frozenset[str]  # components whose client stays open

    @property
    def empty(self) -> bool:
        return not (self.changed or self.added or self.removed)

    def summary(self) -> dict[str, Any]:
        return {
            "added": [str(spec.id) for spec in self.added],
            "changed": [str(spec.id) for spec in self.changed],
            "removed": [str(check_id) for check_id in self.removed],
            "unchanged": len(self.unchanged),
        }


def plan(old: Iterable[CheckSpec], new: Iterable[CheckSpec]) -> Plan:
    old_by_id = {spec.id: spec for spec in old}
    new_specs = list(new)
    old_components = {spec.id.component: spec.component for spec in old_by_id.values()}
    new_components = {spec.id.component: spec.component for spec in new_specs}
    kept = frozenset(
        name
        for name, component in new_components.items()
        if name in old_components and connection(old_components[name]) == connection(component)
    )
    unchanged, changed, added = [], [], []
    for spec in new_specs:
        before = old_by_id.get(spec.id)
        if before is None:
            added.append(spec)
        elif spec.id.component in kept and runs_alike(before, spec):
            unchanged.append(spec)
        else:
            changed.append(spec)
    present = {spec.id for spec in new_specs}
    removed = tuple(check_id for check_id in old_by_id if check_id not in present)
    return Plan(tuple(unchanged), tuple(changed), tuple(added), removed, kept)


def restart_only_changes(running: Settings, loaded: Settings) -> list[str]:
    """The settings that differ but take effect only after a restart, as dotted paths."""
    return [
        f"{section}.{name}" if section else name
        for section, name in RESTART_ONLY
        if _value(running, section, name) != _value(loaded, section, name)
    ]


def effective(running: Settings, loaded: Settings) -> Settings:
    """`loaded` with the running process's values for the settings only a restart applies."""
    updates: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {}
    for section, name in RESTART_ONLY:
        if section:
            sections.setdefault(section, {})[name] = _value(running, section, name)
        else:
            updates[name] = getattr(running, name)
    for section, values in sections.items():
        updates[section] = getattr(loaded, section).model_copy(update=values)
    return loaded.model_copy(update=updates)


def _value(settings: Settings, section: str, name: str) -> Any:
    return getattr(getattr(settings, section) if section else settings, name)
