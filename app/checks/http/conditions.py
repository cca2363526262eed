"""Header and body conditions of a `reachable` check (present / equals / matches; body substrings), as pure
functions: every condition that does not hold is one sentence naming the header (or the text) and what it was."""

from __future__ import annotations

import re
from collections.abc import Mapping

from app.checks.http.config import HeaderCondition
from app.text import quote


def header_problems(headers: Mapping[str, str], expected: Mapping[str, HeaderCondition]) -> list[str]:
    """`headers` with lower-case names (repeated headers joined with ", "); one sentence per failed condition."""
    problems: list[str] = []
    for name, condition in expected.items():
        value = headers.get(name.lower())
        if condition.present is False:
            if value is not None:
                problems.append(f"header {name} present ({quote(value)}), expected absent")
            continue
        if value is None:
            problems.append(f"header {name} missing")
        elif condition.equals is not None and value.strip() != condition.equals:
            problems.append(f"header {name} is {quote(value)}, expected {quote(condition.equals)}")
        elif condition.matches is not None and re.search(condition.matches, value) is None:
            problems.append(f"header {name} is {quote(value)}, does not match {quote(condition.matches)}")
    return problems


def body_problems(body: bytes, needles: list[str]) -> list[str]:
    """Each text the body does not contain (the body read as UTF-8, undecodable bytes replaced)."""
    text = body.decode("utf-8", "replace")
    return [f"body does not contain {quote(needle)}" for needle in needles if needle not in text]
