"""Reading the configuration: the YAML file (strictly: no duplicate keys, bounded nesting), `VIGIL_*` variables
(JSON, or a plain comma list for list fields) and pydantic's errors worded as ConfigProblems naming the field.
"""

from __future__ import annotations

import json
import os
import re
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import EnvSettingsSource

from app.checks import COMPONENT_TYPES
from app.config.problems import ConfigError, ConfigProblem

_FIELD_FIRST = re.compile(r"^([a-z_][a-z0-9_]*(?:\.[a-z0-9_-]+)*): (.+)$", re.S)
MAX_DEPTH = 64  # a real Vigil config nests about 8 deep; anything far deeper is a mistake or an attack


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                line = key_node.start_mark.line + 1
                first = seen[key].start_mark.line + 1
                raise DuplicateKey(f"{key!s} is given twice (lines {first} and {line}); each name must be unique")
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


class DuplicateKey(yaml.YAMLError):
    pass


def _depth(node: yaml.Node) -> int:
    """Nesting depth of a composed YAML node, iteratively (a recursive walk is what fails on hostile input)."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            break
        if isinstance(current, yaml.MappingNode):
            stack.extend((child, depth + 1) for pair in current.value for child in pair)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in current.value)
    return deepest


def read_yaml(path: Path) -> dict[str, Any]:
    where = f"config file {path}"
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError([ConfigProblem(where, str(exc.strerror))]) from None
    try:
        loader = _StrictLoader(text)
        try:
            root = loader.get_single_node()
            if root is not None and _depth(root) > MAX_DEPTH:
                raise ConfigError([ConfigProblem(where, f"nested more than {MAX_DEPTH} levels deep")])
            data = None if root is None else loader.construct_document(root)
        finally:
            loader.dispose()
    except DuplicateKey as exc:
        raise ConfigError([ConfigProblem(where, str(exc))]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError([ConfigProblem(f"{where}{at}", str(problem))]) from None
    except RecursionError:
        raise ConfigError([ConfigProblem(where, "nested too deeply to read")]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([ConfigProblem(where, "the top level must be a mapping")])
    return data


class Environment(EnvSettingsSource):
    """`VIGIL_*` variables. Structured values are JSON; a list field also takes a plain comma-separated list
    (`VIGIL_AUTH__ALGORITHMS=RS256,ES256`). A value that is neither is a ConfigError naming the variable."""

    def decode_complex_value(self, field_name: str, field: FieldInfo | None, value: Any) -> Any:
        try:
            return json.loads(value)
        except ValueError as exc:
            if field is None and isinstance(value, str) and not value.lstrip().startswith(("[", "{")):
                return value  # a plain value deep inside a structure (a check's option): pydantic validates it
            annotation = None if field is None else field.annotation
            if _is_list(annotation) and isinstance(value, str) and not value.lstrip().startswith(("[", "{")):
                return [item.strip() for item in value.split(",") if item.strip()]
            raise ConfigError([ConfigProblem(_variable(field_name, value), f"not valid JSON ({exc})")]) from None


def _is_list(annotation: Any) -> bool:
    origins = {typing.get_origin(arg) for arg in (annotation, *typing.get_args(annotation))}
    return bool(origins & {list, tuple, set, frozenset})


def _variable(field_name: str, value: str) -> str:
    """The environment variable that carried `value` for `field_name` (for the error message)."""
    for name, candidate in os.environ.items():
        upper = name.upper()
        if candidate == value and upper.startswith("VIGIL_") and upper.endswith(field_name.upper()):
            return name
    return f"VIGIL_* ({field_name})"


def _format_loc(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    kinds = {kind.name for t in COMPONENT_TYPES.values() for kind in t.kinds}
    for i, part in enumerate(loc):
        parent = loc[i - 2] if i >= 2 else None
        # pydantic puts the union tag in the path (components.cache.redis.url); users never wrote it.
        if parent == "components" and part in COMPONENT_TYPES:
            continue
        if parent == "checks" and part in kinds:
            continue
        parts.append(str(part))
    return ".".join(parts)


def format_validation_error(exc: ValidationError) -> list[ConfigProblem]:
    problems = []
    for error in exc.errors(include_input=False, include_url=False):
        path = _format_loc(tuple(error["loc"]))
        message = str(error["msg"])
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            ctx = error.get("ctx", {})
            discriminator = str(ctx.get("discriminator", "")).strip("'")
            path = f"{path}.{discriminator}" if path else discriminator
            if error["type"] == "union_tag_invalid":
                message = f"unknown {discriminator} {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}"
            else:
                message = f"{discriminator} is required"
        message = message.removeprefix("Value error, ")
        if error["type"] == "value_error" and (field := _FIELD_FIRST.match(message)):
            # A model's own rule that names one of its fields first ("key: must not be empty").
            path, message = f"{path}.{field[1]}" if path else field[1], field[2]
        if error["type"] == "extra_forbidden":
            message = "unknown field (check the spelling; see `vigil config show` for the known ones)"
        problems.append(ConfigProblem(path, message))
    return problems
