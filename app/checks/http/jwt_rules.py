"""How the `jwt` check judges what the protected route answered, as pure functions.

A bad token accepted is a security hole (fail, naming the case); a refusal with an unexpected status is a warn;
the valid token must open the route; its remaining lifetime must outlast the check's interval.
"""

from __future__ import annotations

from dataclasses import dataclass

from app import units
from app.checks.judging import Finding
from app.model import Status


@dataclass(frozen=True, slots=True)
class Case:
    """A bad token the protected route must refuse."""

    name: str  # short, for lists: "expired"
    words: str  # in a sentence: "an expired token"
    needs_key: bool = False  # can only be forged with the signing key


NO_TOKEN = Case("no token", "a request without a token")
EXPIRED = Case("expired", "an expired token", needs_key=True)
OTHER_KEY = Case("another key", "a token signed with another key")
TAMPERED = Case("tampered", "a tampered token (a claim changed, the signature kept)")
ALG_NONE = Case("alg: none", "an unsigned token (alg: none)")
OTHER_AUDIENCE = Case("another audience", "a token for another audience", needs_key=True)
CASES = (NO_TOKEN, EXPIRED, OTHER_KEY, TAMPERED, ALG_NONE, OTHER_AUDIENCE)


def judge_valid(route: str, status: int, latency: float) -> Finding | None:
    """The valid token must open the route (2xx); None when it did."""
    if 200 <= status < 300:
        return None
    return Status.FAIL, f"{route} refused the valid token: HTTP {status} in {units.latency(latency)}"


def judge_case(route: str, case: Case, status: int, refuse_status: list[int]) -> Finding | None:
    """None when the route refused the bad token as configured."""
    if status in refuse_status:
        return None
    if 200 <= status < 300:
        return Status.FAIL, f"security hole: {route} accepted {case.words} (HTTP {status})"
    expected = " or ".join(map(str, refuse_status))
    return Status.WARN, f"{route} answered {case.words} with HTTP {status}, expected {expected}"


def judge_lifetime(source: str, exp: object, now: float, interval: float) -> tuple[Finding | None, float | None]:
    """The token's remaining lifetime (seconds, None without `exp`) and what is wrong with it."""
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        return (Status.WARN, f"the token {source} has no expiry (exp): a stolen one works forever"), None
    left = float(exp) - now
    if left <= 0:
        return (Status.FAIL, f"the token {source} had expired at {units.timestamp(float(exp))} UTC"), left
    if left < interval:
        return (
            Status.WARN,
            f"the token {source} expires in {units.age(left)}, sooner than the interval ({units.span(interval)})",
        ), left
    return None, left


def summary(route: str, status: int, latency: float, refused: list[Case]) -> str:
    """The output of a run where nothing was wrong."""
    text = f"{route} accepted the valid token (HTTP {status} in {units.latency(latency)})"
    if refused:
        text += f" and refused {units.plural(len(refused), 'bad token')}: {', '.join(c.name for c in refused)}"
    return text


def not_tried_note(not_tried: list[str]) -> str:
    return f"not tried: {'; '.join(not_tried)}" if not_tried else ""
