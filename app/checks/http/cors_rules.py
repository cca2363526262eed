"""How a browser judges a CORS answer (the Fetch standard's CORS and preflight checks), as pure functions.

Every problem names the route, the origin, the header that was wrong and what it was; no network here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.text import quote

SAFELISTED_METHODS = frozenset({"GET", "HEAD", "POST"})  # need no Access-Control-Allow-Methods entry


@dataclass(frozen=True, slots=True)
class Preflight:
    """What the frontend asks: its method and headers, from an origin, with or without credentials."""

    method: str
    path: str
    headers: tuple[str, ...]
    origin: str
    credentials: bool

    @property
    def where(self) -> str:
        return f"{self.method} {self.path} from {self.origin}"


def tokens(value: str | None) -> list[str]:
    """A comma-separated header value as its items."""
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def _shown(value: str | None) -> str:
    return "absent" if value is None else quote(value)


def judge_preflight(ask: Preflight, status: int, headers: Mapping[str, str]) -> list[str]:
    """What a browser would refuse in a preflight's answer (`headers` with lower-case names); empty when none."""
    if not 200 <= status < 300:
        return [f"{ask.where}: preflight answered HTTP {status}"]
    problems: list[str] = []
    allow_origin = headers.get("access-control-allow-origin")
    allow_credentials = headers.get("access-control-allow-credentials")
    if allow_origin is None:
        problems.append(f"{ask.where}: no Access-Control-Allow-Origin")
    elif allow_origin == "*":
        if ask.credentials or allow_credentials == "true":
            problems.append(
                f"{ask.where}: Access-Control-Allow-Origin is '*' with credentials "
                f"(Access-Control-Allow-Credentials: {_shown(allow_credentials)}); browsers refuse it"
            )
    elif allow_origin != ask.origin:
        problems.append(f"{ask.where}: Access-Control-Allow-Origin is {quote(allow_origin)}, not the origin")
    elif not varies_on_origin(headers.get("vary")):
        problems.append(
            f"{ask.where}: the origin is echoed without Vary: Origin (Vary: {_shown(headers.get('vary'))}); "
            "a shared cache would serve this answer to other origins"
        )
    if ask.credentials and allow_credentials != "true":
        problems.append(
            f"{ask.where}: Access-Control-Allow-Credentials is {_shown(allow_credentials)}, expected 'true'"
        )
    wildcard = not ask.credentials  # `*` means "any" only for requests without credentials
    allow_methods = headers.get("access-control-allow-methods")
    methods = tokens(allow_methods)
    if not (ask.method in SAFELISTED_METHODS or ask.method in methods or (wildcard and "*" in methods)):
        problems.append(
            f"{ask.where}: method {ask.method} not allowed (Access-Control-Allow-Methods: {_shown(allow_methods)})"
        )
    allow_headers = headers.get("access-control-allow-headers")
    allowed = {name.lower() for name in tokens(allow_headers)}
    for name in ask.headers:
        # The wildcard never covers Authorization (Fetch standard: CORS-non-wildcard request-header names).
        if name.lower() in allowed or (wildcard and "*" in allowed and name.lower() != "authorization"):
            continue
        problems.append(
            f"{ask.where}: header {name} not allowed (Access-Control-Allow-Headers: {_shown(allow_headers)})"
        )
    return problems


def judge_disallowed(origin: str, answers: list[tuple[str, Mapping[str, str]]]) -> list[str]:
    """Requests from an origin nobody allowed, as (what, headers) with `what` such as "the preflight of PUT /api/me":
    none may echo it."""
    echoed = [what for what, headers in answers if headers.get("access-control-allow-origin") == origin]
    if not echoed:
        return []
    credentials = any(
        headers.get("access-control-allow-credentials") == "true" for what, headers in answers if what in echoed
    )
    return [
        f"the disallowed origin {origin} is echoed in Access-Control-Allow-Origin"
        f"{' with credentials' if credentials else ''} on {' and '.join(echoed)}: any site can call this API"
    ]


def varies_on_origin(vary: str | None) -> bool:
    items = {item.lower() for item in tokens(vary)}
    return "origin" in items or "*" in items


def max_age(headers: Mapping[str, str]) -> float | None:
    """Access-Control-Max-Age in seconds, when present and a number."""
    value = headers.get("access-control-max-age", "").strip()
    return float(value) if value.lstrip("-").isdigit() else None
