"""Errors every client raises alike, and the one wording of an unreachable dependency, whatever its type.

A dependency that cannot be reached reads `cannot reach <service> at <address>: <cause>` for every type and every
command; a name that does not resolve reads `DNS lookup of <host> ...`, as a sentence of its own.
"""

from __future__ import annotations

from app import units

REFUSED = "connection refused"


class PoolExhausted(Exception):
    """Every connection of Vigil's own pool for a component was busy for the whole acquire timeout.

    Vigil's own trouble, not the dependency's: the message says so, and the next run is the retry.
    """


def unreachable(service: str | None, where: str, cause: str) -> str:
    """The one sentence of a dependency that cannot be reached. `service`: what speaks at `where` (Redis,
    ClickHouse, the HTTP server), or None for a bare TCP port."""
    return f"cannot reach {service} at {where}: {cause}" if service else f"cannot reach {where}: {cause}"


def connect_silent(limit: float) -> str:
    """The cause of a connect that got no answer: nothing came back within the connect timeout."""
    return f"no answer within the {units.latency(limit)} connect timeout"


def lookup_silent(host: str, limit: float) -> str:
    return f"DNS lookup of {host} got no answer within {units.latency(limit)}"


def lookup_failed(host: str, reason: str) -> str:
    return f"DNS lookup of {host} failed: {reason}"


def speaks_not(service: str, where: str, detail: str = "") -> str:
    """A port that answered, but not in the protocol of the component's type (a Redis URL at an HTTP server)."""
    return f"{where} does not speak the {service} protocol" + (f" ({detail})" if detail else "")
