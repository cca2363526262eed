"""The contract between the scheduler and the check modules: a typed CheckContext in, an Outcome out.

A ComponentType bundles one `type:`'s config model, its client's life cycle, its error wording and its kinds;
a CheckKind is one check kind: its options model (whose `kind` Literal is its name), its function, its memory.
"""

from __future__ import annotations

import asyncio
import functools
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from app.config.fields import CheckConfig, ComponentConfig, Schedule
from app.model import CheckId, Outcome

ComponentT = TypeVar("ComponentT", bound=ComponentConfig)
OptionsT = TypeVar("OptionsT", bound=CheckConfig)
ClientT = TypeVar("ClientT")
MemoT = TypeVar("MemoT")


@dataclass(slots=True)
class CheckContext(Generic[ComponentT, OptionsT, ClientT, MemoT]):
    """Everything one run of one check may use. Checks read it; only `memo` (their own dataclass) survives runs."""

    check_id: CheckId
    component: ComponentT
    options: OptionsT
    schedule: Schedule
    client: ClientT
    deadline: float  # loop.time() by which the run must be over
    memo: MemoT  # the check's memory between runs (deltas, cursors), made by its kind's `memo` factory

    def remaining(self) -> float:
        """Seconds left before the deadline (never negative)."""
        return max(0.0, self.deadline - asyncio.get_running_loop().time())


@dataclass(slots=True)
class NoMemo:
    """The memory of a check that remembers nothing between runs."""


CheckFn = Callable[[CheckContext[Any, Any, Any, Any]], Awaitable[Outcome]]


@functools.cache
def literal_of(model: type[Any], field: str) -> str:
    """The single value of a `Literal[...]` field: a check's `kind`, a component's `type` (read once per model:
    every metrics snapshot and health document asks)."""
    (value,) = typing.get_args(model.model_fields[field].annotation)
    return str(value)


@dataclass(frozen=True, slots=True)
class CheckKind:
    """One check kind of a component type. Its name is its options model's `kind` Literal, written nowhere else."""

    options: type[CheckConfig]
    run: CheckFn
    memo: Callable[[], Any] = NoMemo

    @property
    def name(self) -> str:
        return literal_of(self.options, "kind")


@dataclass(frozen=True, slots=True)
class ComponentType:
    """One `type:` a component may have. Its name is its config model's `type` Literal."""

    config: type[ComponentConfig]
    kinds: tuple[CheckKind, ...]
    open_client: Callable[[Any], Any]  # component config -> client (built in the running loop, connects lazily)
    close_client: Callable[[Any], Awaitable[None]]
    describe_error: Callable[[BaseException], str | None] = lambda exc: None  # errors as sentences, one per cause

    @property
    def name(self) -> str:
        return literal_of(self.config, "type")

    def kind(self, name: str) -> CheckKind:
        for kind in self.kinds:
            if kind.name == name:
                return kind
        raise KeyError(name)
