"""The configuration resolved once into CheckSpecs: which check, of which kind, with which options and schedule.

The scheduler, the store, the metrics and the CLI all work from this list (as Gatus resolves its endpoints once).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from app.checks import COMPONENT_TYPES, CheckKind, ComponentType
from app.config.fields import Area, CheckConfig, ComponentConfig, Schedule, Severity
from app.config.maintenance import MaintenanceWindow
from app.config.settings import Settings
from app.model import CheckId


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """One configured check, everything about it decided."""

    id: CheckId
    type: ComponentType
    component: ComponentConfig
    kind: CheckKind
    options: CheckConfig
    schedule: Schedule
    maintenance: tuple[MaintenanceWindow, ...] = ()  # the windows that apply to this check

    @property
    def area(self) -> Area:
        """The check's own `area`, else its kind's default, else its component type's."""
        return self.options.area or type(self.options).default_area or type(self.component).default_area

    @property
    def severity(self) -> Severity:
        return self.schedule.severity

    @property
    def critical(self) -> bool:
        return self.schedule.severity is Severity.CRITICAL


def shard_of(check_id: CheckId, count: int) -> int:
    """The shard a check belongs to: stable across processes, machines and Python versions (no `hash()`).

    Rendezvous (highest-random-weight) hashing: each shard index gets a weight from SHA-256 of
    `component:check|index`, and the check goes to the heaviest. Going from N to N+1 shards moves only the checks
    whose new shard outweighs their old one, about 1/(N+1) of them (`hash % count` would move most).
    """
    key = str(check_id).encode()
    return max(range(count), key=lambda index: _weight(key, index))


def _weight(key: bytes, index: int) -> int:
    return int.from_bytes(hashlib.sha256(key + b"|" + str(index).encode()).digest()[:8], "big")


def resolve(settings: Settings, *, one_shot: bool = False) -> list[CheckSpec]:
    """The configured checks this process runs, in config order: its shard's share when `shard.count` > 1.

    `one_shot` (a `vigil check` gate) runs every check whatever the shard, and has no history to smooth over, so
    each result is reported as it is (both thresholds 1).
    """
    shard = settings.shard
    specs = []
    for cname, component in settings.components.items():
        ctype = COMPONENT_TYPES[component.type]
        for check_name, options in component.checks.items():
            if not one_shot and shard.count > 1 and shard_of(CheckId(cname, check_name), shard.count) != shard.index:
                continue
            schedule = settings.schedule(cname, check_name)
            if one_shot:
                schedule = replace(schedule, failure_threshold=1, success_threshold=1)
            windows = tuple(w for w in settings.maintenance if w.applies_to(cname, check_name))
            specs.append(
                CheckSpec(
                    CheckId(cname, check_name), ctype, component, ctype.kind(options.kind), options, schedule, windows
                )
            )
    return specs
