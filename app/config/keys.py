"""The keys the configuration knows at each place, walked from the Settings model: they name the nearest known key
for an unknown field, and refuse a `VIGIL_*` variable that would set nothing (or invent a component).
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from app.config.fields import SecretFields
from app.config.problems import ConfigProblem

# VIGIL_ variables that are not settings: the config file's path, and the scripts' own knobs.
NOT_SETTINGS = frozenset({"VIGIL_CONFIG", "VIGIL_PORT", "VIGIL_RUN_DIR", "VIGIL_SKIP_IMAGE", "VIGIL_JWT_KEY"})
PREFIX, DELIMITER = "VIGIL_", "__"
_TAG_FIELDS = ("type", "kind")  # the discriminators of components and checks


@dataclass(frozen=True, slots=True)
class Unknown:
    """The key at `index` of a path is not known there; `known` are the keys that are."""

    index: int
    known: tuple[str, ...]

    def nearest(self, key: str) -> str | None:
        close = difflib.get_close_matches(key, self.known, n=1, cutoff=0.6)
        return close[0] if close else None


def _unwrap(annotation: Any) -> Any:
    """`Annotated[X, ...]` -> X; `X | None` -> X; a union of several models stays a tuple of them."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = tuple(arg for arg in typing.get_args(annotation) if arg is not type(None))
            if len(members) != 1:
                return members
            annotation = members[0]
        else:
            return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def known_keys(model: type[BaseModel]) -> tuple[str, ...]:
    keys = list(model.model_fields)
    if issubclass(model, SecretFields):
        keys.extend(f"{name}_file" for name in model.secret_fields)
    return tuple(keys)


def _tag(model: type[BaseModel]) -> tuple[str, str] | None:
    for name in _TAG_FIELDS:
        field = model.model_fields.get(name)
        if field is not None and typing.get_origin(field.annotation) is typing.Literal:
            return name, str(typing.get_args(field.annotation)[0])
    return None


def _pick(members: tuple[Any, ...], tag: Any) -> type[BaseModel] | None:
    for member in members:
        if _is_model(member) and (found := _tag(member)) is not None and found[1] == tag:
            return typing.cast(type[BaseModel], member)
    return None


def walk(root: type[BaseModel], path: Iterable[Any], data: Any = None) -> Unknown | None:
    """Follow `path` (keys, as in a pydantic error location or a variable's parts) through the models from `root`,
    with the configuration `data` to tell which type a component or check is. An Unknown where a key is not a field
    of the model it reaches; None when the path is known or leaves the models (a list, a free-form mapping)."""
    annotation: Any = root
    parts = list(path)
    index = 0
    parent_key: Any = None
    while index < len(parts):
        part = parts[index]
        annotation = _unwrap(annotation)
        if isinstance(annotation, tuple):  # a union: the tag in the path (pydantic's), else the data's type/kind
            model = _pick(annotation, part)
            if model is not None:
                annotation = model
                index += 1
                continue
            tag = data.get("type", data.get("kind", parent_key)) if isinstance(data, Mapping) else parent_key
            model = _pick(annotation, tag)
            if model is None:
                return None
            annotation = model
        if _is_model(annotation):
            keys = known_keys(annotation)
            if part not in keys:
                return Unknown(index, keys)
            field = annotation.model_fields.get(part)
            if field is None:  # X_file: a path
                return None
            annotation = field.annotation
        elif typing.get_origin(annotation) is dict:
            annotation = typing.get_args(annotation)[1]
        else:
            return None
        data = data.get(part) if isinstance(data, Mapping) else None
        parent_key = part
        index += 1
    return None


def environment_problems(
    root: type[BaseModel], environ: Mapping[str, str], data: Mapping[str, Any]
) -> tuple[list[ConfigProblem], set[str]]:
    """Each `VIGIL_*` variable that sets no field (a typo is otherwise silently ignored), and each that names a
    component neither the file nor a `VIGIL_COMPONENTS__<NAME>[__TYPE]` variable defines, with the nearest name.
    Also returns the dotted paths those variables reach (pydantic's errors about them would say the same again)."""
    names = {name.upper() for name in environ}
    found = data.get("components")
    components: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    problems = []
    reached: set[str] = set()
    for variable in sorted(environ):
        upper = variable.upper()
        if not upper.startswith(PREFIX) or upper in NOT_SETTINGS:
            continue
        parts = upper.removeprefix(PREFIX).lower().split(DELIMITER)
        if len(parts) >= 2 and parts[0] == "components" and parts[1] not in components:
            defined = f"{PREFIX}COMPONENTS__{parts[1].upper()}"
            if defined not in names and f"{defined}__TYPE" not in names:
                known = tuple(str(name) for name in components)
                near = ""
                if hint := Unknown(1, known).nearest(parts[1]):
                    near = f"; did you mean {_variable([*parts[:1], hint, *parts[2:]])}?"
                problems.append(ConfigProblem(variable, f"no component named {parts[1]!r} in the configuration{near}"))
                reached.add(".".join(parts[:2]))
                continue
        unknown = walk(root, parts, data)
        if unknown is None:
            continue
        near = ""
        if hint := unknown.nearest(parts[unknown.index]):
            near = f"; did you mean {_variable([*parts[: unknown.index], hint, *parts[unknown.index + 1 :]])}?"
        problems.append(ConfigProblem(variable, f"sets no setting{near}"))
        reached.add(".".join(parts[: unknown.index + 1]))
    return problems, reached


def _variable(parts: list[str]) -> str:
    return PREFIX + DELIMITER.join(parts).upper()
