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
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import EnvSettingsSource

from app.checks import COMPONENT_TYPES
from app.config.files import CONFIG_LIMIT, FileRefused, read_limited
from app.config.keys import walk
from app.config.problems import ConfigError, ConfigProblem

_FIELD_FIRST = re.compile(r"^([a-z_][a-z0-9_]*(?:\.[a-z0-9_-]+)*): (.+)$", re.S)
MAX_DEPTH = 64  # a real Vigil config nests about 8 deep; anything far deeper is a mistake or an attack
MAX_NODES = 1_000_000  # values after aliases expand; a config of 10,000 checks has about 200,000


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


class TooLarge(Exception):
    """The document, as its aliases expand, is too deep or too large; the message says which."""


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _measure(root: yaml.Node) -> None:
    """Refuse a document deeper than MAX_DEPTH or of more than MAX_NODES nodes once every alias is expanded (a
    "billion laughs": ten anchors of ten aliases each is 10^10 nodes in 1 KB). Composed YAML shares an anchored
    node wherever it is aliased, so each node is measured once (depth and expanded size memoized): linear in the
    file, however far it would expand. Iterative, as a recursive walk is what fails on hostile input."""
    measured: dict[int, tuple[int, int]] = {}  # id(node) -> (depth, expanded nodes)
    open_nodes: set[int] = set()  # the ancestors of the node being measured: meeting one again is a cycle
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            open_nodes.discard(key)
            children = [measured[id(child)] for child in _children(node)]
            depth = 1 + max((d for d, _ in children), default=0)
            nodes = 1 + sum(n for _, n in children)
            if depth > MAX_DEPTH:
                raise TooLarge(f"nested more than {MAX_DEPTH} levels deep")
            if nodes > MAX_NODES:
                raise TooLarge(
                    f"expands to more than {MAX_NODES:,} values through its aliases (*name); "
                    "write the repeated parts out, or use fewer levels of aliases"
                )
            measured[key] = (depth, nodes)
        elif key not in measured:
            if key in open_nodes:
                raise TooLarge("an alias (*name) refers to a node that contains it")
            if len(open_nodes) > MAX_DEPTH:
                raise TooLarge(f"nested more than {MAX_DEPTH} levels deep")
            open_nodes.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in _children(node) if id(child) not in measured)


def read_yaml(path: Path) -> dict[str, Any]:
    where = f"config file {path}"
    try:
        text = read_limited(path, CONFIG_LIMIT).decode()
    except OSError as exc:
        raise ConfigError([ConfigProblem(where, str(exc.strerror))]) from None
    except FileRefused as exc:
        raise ConfigError([ConfigProblem(where, str(exc))]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigProblem(where, f"not UTF-8 text (byte {exc.start})")]) from None
    try:
        loader = _StrictLoader(text)
        try:
            root = loader.get_single_node()
            if root is not None:
                _measure(root)
            data = None if root is None else loader.construct_document(root)
        finally:
            loader.dispose()
    except TooLarge as exc:
        raise ConfigError([ConfigProblem(where, str(exc))]) from None
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


def format_validation_error(exc: ValidationError, root: type[BaseModel] | None = None) -> list[ConfigProblem]:
    """pydantic's errors as ConfigProblems; an unknown field names the nearest known one (walked from `root`)."""
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
            message = _unknown_field(root, tuple(error["loc"]))
        problems.append(ConfigProblem(path, message))
    return problems


def _unknown_field(root: type[BaseModel] | None, loc: tuple[Any, ...]) -> str:
    unknown = None if root is None or not loc else walk(root, loc)
    if unknown is None or unknown.index != len(loc) - 1:
        return "unknown field (check the spelling)"
    if nearest := unknown.nearest(str(loc[-1])):
        return f"unknown field; did you mean {nearest}?"
    return f"unknown field; the fields here are {', '.join(unknown.known)}"
