"""The contract between the scheduler and the check modules: CheckContext in, Outcome out.

A component type bundles its config model, how to build and close its client, and its check functions by kind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from app.model import Outcome
from app.schema import CheckConfig, ComponentConfig, Schedule

ClientT = TypeVar("ClientT")


@dataclass(slots=True)
class CheckContext(Generic[ClientT]):
    """Everything one run of one check may use. Checks read it; only `memo` survives between runs."""

    component_name: str
    component: Any  # the component's config model (a ComponentConfig subclass)
    check_name: str
    options: Any  # the check's config model (a CheckConfig subclass)
    schedule: Schedule
    client: ClientT
    deadline: float  # loop.time() by which the run must be over
    memo: dict[str, Any] = field(default_factory=dict)  # the check's own memory (deltas since the last run)

    def remaining(self) -> float:
        """Seconds left before the deadline (never negative)."""
        return max(0.0, self.deadline - asyncio.get_running_loop().time())

    @property
    def check_id(self) -> str:
        return f"{self.component_name}:{self.check_name}"


CheckFn = Callable[[CheckContext[Any]], Awaitable[Outcome]]


@dataclass(frozen=True, slots=True)
class ComponentType:
    """One `type:` a component may have."""

    name: str
    config: type[ComponentConfig]
    checks: dict[str, CheckFn]  # kind -> function
    open_client: Callable[[Any], Any]  # component config -> client (built in the running loop)
    close_client: Callable[[Any], Awaitable[None]]
    describe_error: Callable[[BaseException], str | None] = lambda exc: None  # type-specific error wording

    def check_fn(self, options: CheckConfig) -> CheckFn:
        return self.checks[options.kind]
