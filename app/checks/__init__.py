"""The registry of component types: a new type is one package under app/checks plus one line here.

Everything else (the config union, kinds, error wording, clients) is derived from these entries.
"""

from __future__ import annotations

import typing

from app.checks.base import CheckContext, CheckFn, CheckKind, ComponentType, NoMemo
from app.checks.clickhouse import CLICKHOUSE
from app.checks.http import HTTP
from app.checks.redis import REDIS
from app.checks.tcp import TCP


def _registry(*types: ComponentType) -> dict[str, ComponentType]:
    """Types by name; each type's `checks` union must hold exactly the options models of its kinds."""
    for ctype in types:
        declared = set(_union_members(ctype.config.model_fields["checks"].annotation))
        registered = {kind.options for kind in ctype.kinds}
        if declared != registered:
            raise TypeError(
                f"component type {ctype.name}: `checks` models {declared} differ from its kinds {registered}"
            )
    return {ctype.name: ctype for ctype in types}


def _union_members(annotation: typing.Any) -> list[type]:
    """The models of `dict[str, Annotated[A | B, ...]]` (or of a single model)."""
    (_, value) = typing.get_args(annotation)
    if typing.get_origin(value) is typing.Annotated:
        value = typing.get_args(value)[0]
    return list(typing.get_args(value)) or [value]


COMPONENT_TYPES: dict[str, ComponentType] = _registry(REDIS, CLICKHOUSE, HTTP, TCP)

__all__ = ["COMPONENT_TYPES", "CheckContext", "CheckFn", "CheckKind", "ComponentType", "NoMemo"]
