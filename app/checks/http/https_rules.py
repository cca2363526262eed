"""How a plain-http redirect and a Strict-Transport-Security header are judged (RFC 6797), as pure functions.

A permanent redirect (301/308) to https on the same host passes, a temporary one warns; HSTS must parse, and
its max-age reach the minimum. Every problem names the URL or the header value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from app import units
from app.checks.judging import Finding
from app.model import Status
from app.text import SHOWN, printable, quote

PERMANENT = frozenset({301, 308})
TEMPORARY = frozenset({302, 303, 307})
_DIRECTIVE = re.compile(r'^\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^\s;"]*))?\s*$')


@dataclass(frozen=True, slots=True)
class Hsts:
    max_age: int  # seconds
    include_subdomains: bool
    preload: bool


def parse_hsts(value: str) -> Hsts:
    """A Strict-Transport-Security value; ValueError saying why a browser would ignore it."""
    directives: dict[str, str | None] = {}
    for part in value.split(";"):
        if not part.strip():
            continue
        match = _DIRECTIVE.match(part)
        if match is None:
            raise ValueError(f"cannot read the directive {part.strip()!r}")
        name = match.group(1).lower()
        if name in directives:
            raise ValueError(f"{name} is given twice")
        raw = match.group(2)
        directives[name] = raw[1:-1] if raw is not None and raw.startswith('"') else raw
    max_age = directives.get("max-age")
    if "max-age" not in directives or max_age is None or not max_age.isdigit():
        raise ValueError("no max-age" if "max-age" not in directives else f"max-age {max_age!r} is not a number")
    return Hsts(int(max_age), "includesubdomains" in directives, "preload" in directives)


def judge_hsts(
    url: str, values: list[str], min_max_age: float, include_subdomains: bool
) -> tuple[list[Finding], Hsts | None]:
    """The Strict-Transport-Security header lines of the https answer (a browser reads the first only)."""
    if not values:
        return [(Status.FAIL, f"no Strict-Transport-Security header on {url}")], None
    try:
        hsts = parse_hsts(values[0])
    except ValueError as exc:
        return [
            (Status.FAIL, f"Strict-Transport-Security {quote(values[0])} is invalid ({exc}); browsers ignore it")
        ], None
    findings: list[Finding] = []
    if hsts.max_age == 0:
        findings.append((Status.FAIL, "Strict-Transport-Security max-age=0 tells browsers to forget HSTS"))
    elif hsts.max_age < min_max_age:
        findings.append(
            (
                Status.FAIL,
                f"Strict-Transport-Security max-age is {units.age(hsts.max_age)} ({hsts.max_age} s), "
                f"below the minimum {units.span(min_max_age)}",
            )
        )
    if include_subdomains and not hsts.include_subdomains:
        findings.append((Status.FAIL, "Strict-Transport-Security has no includeSubDomains"))
    return findings, hsts


def judge_redirect(url: str, status: int, location: str | None) -> tuple[list[Finding], str | None]:
    """The answer to the plain-http URL: (findings, where it redirects to, absolute)."""
    if status not in PERMANENT | TEMPORARY:
        return [(Status.FAIL, f"{url} answered HTTP {status} instead of redirecting to https")], None
    if not location:
        return [(Status.FAIL, f"{url} answered HTTP {status} without a Location")], None
    to = urljoin(url, location)
    target, source = urlsplit(to), urlsplit(url)
    if target.scheme != "https":
        return [(Status.FAIL, f"{url} redirects to {printable(to, SHOWN)}, not to https")], to
    if (target.hostname or "") != (source.hostname or ""):
        host = printable(target.hostname or "", SHOWN)
        return [(Status.FAIL, f"{url} redirects to another host ({host}), not to https on {source.hostname}")], to
    if status in TEMPORARY:
        return [
            (
                Status.WARN,
                f"{url} redirects to https with HTTP {status}, a temporary redirect browsers do not remember; "
                "use 301 or 308",
            )
        ], to
    return [], to
