"""Dotted paths into a JSON document (`deps.db`, `items.0.id`) and the equality a check expects of them.

Shared by `reachable` (a response body) and `websocket` (a reply).
"""

from __future__ import annotations

import json
from typing import Any


def lookup(document: Any, dotted: str) -> tuple[bool, Any]:
    """`a.b.0.c` into nested dicts and lists; (found, value)."""
    node = document
    for part in dotted.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False, None
    return True, node


def mismatches(body: bytes | str, expected: dict[str, Any]) -> list[str]:
    """What differs from `expected` in a JSON body, one sentence each; empty when every field is equal."""
    try:
        document = json.loads(body)
    except ValueError:
        return ["body is not JSON"]
    except RecursionError:  # `[[[[…` for a megabyte: the parser gives up before the body ends
        return ["body is not JSON (nested too deeply to read)"]
    problems: list[str] = []
    for path, want in expected.items():
        found, got = lookup(document, path)
        if not found:
            problems.append(f"JSON field {path} missing")
        elif got != want:
            problems.append(f"JSON field {path} is {json.dumps(got)[:80]}, expected {json.dumps(want)[:80]}")
    return problems
