"""Which redirects an `http` check follows, and with what: a pure rule, as the Fetch standard words it.

A redirect is followed to the component's own origin with everything the check sends; to an origin the check
lists in `redirect_origins` with none of the component's headers or credentials (curl's fix for CVE-2022-27776 and
Fetch drop them across origins); anywhere else, not at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def origin(url: str) -> str:
    """scheme://host:port, the port spelled out, the host lower-case (what same-origin compares)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    host = f"[{host}]" if ":" in host else host
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower(), 0)
    return f"{parts.scheme.lower()}://{host}:{port}"


@dataclass(frozen=True, slots=True)
class Hop:
    url: str  # where to go next
    method: str  # 303, and 301/302 after a POST, turn into GET
    same_origin: bool  # the component's headers and credentials go along only when true


class Refused(Exception):
    """A redirect that is not followed: the message is the check's output."""


def next_hop(status: int, location: str | None, url: str, method: str, home: str, allowed: Iterable[str]) -> Hop | None:
    """Where a redirect answer leads, or None when `status` is not a redirect. `home`: the component's origin,
    `allowed`: the other origins the check may be sent to. Raises Refused for one that may not be followed."""
    if status not in REDIRECTS:
        return None
    if not location:
        raise Refused(f"HTTP {status} without a Location header")
    target = urljoin(url, location)
    scheme = urlsplit(target).scheme.lower()
    if scheme not in ("http", "https"):
        raise Refused(f"HTTP {status} redirects to a {scheme or 'relative'}: URL, not followed")
    there = origin(target)
    same = there == origin(home)
    if not same and there not in {origin(o) for o in allowed}:
        raise Refused(
            f"HTTP {status} redirects to another origin ({there}), not followed: "
            "list it in redirect_origins to follow it (without the component's headers)"
        )
    if status == 303 or (status in (301, 302) and method == "POST"):
        method = "GET"
    return Hop(target, method, same)
