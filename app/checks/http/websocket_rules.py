"""How the `websocket` check judges a round trip and an anonymous client's treatment, as pure functions.

No reply, a close instead of one, or only wrong answers fail; an anonymous client that is answered is a fail.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from app import units
from app.checks.http.json_fields import mismatches
from app.checks.judging import Finding
from app.model import Status
from app.text import quote

REFUSING_CLOSE_CODES = frozenset({1008, 3000, 3003})  # policy violation; IANA's Unauthorized, Forbidden
REFUSING_STATUSES = frozenset({401, 403})


@dataclass(frozen=True, slots=True)
class Exchange:
    """What came back after the message (or the ping), within the reply bound."""

    result: Literal["reply", "closed", "silent"]
    latency: float  # seconds until the reply or the close (the bound, when silent)
    last: str | None = None  # the last message that was not the expected reply
    close_code: int | None = None


@dataclass(frozen=True, slots=True)
class Anonymous:
    """An upgrade without credentials: its HTTP status (101 when upgraded, None without an answer) and after."""

    status: int | None
    exchange: Exchange | None = None
    waited: float = 0.0  # seconds, when the upgrade got no answer


def matches(text: str, expect: str | None, json_fields: dict[str, Any]) -> bool:
    if expect is not None and expect not in text:
        return False
    return not json_fields or not mismatches(text, json_fields)


def _expectation(expect: str | None, json_fields: dict[str, Any]) -> str:
    wanted = [f"containing {expect!r}"] if expect is not None else []
    wanted += [f"with {path} = {json.dumps(value)[:40]}" for path, value in json_fields.items()]
    return " and ".join(wanted) or "at all"


def _code(exchange: Exchange) -> str:
    return "no close code" if exchange.close_code is None else f"code {exchange.close_code}"


def judge_reply(
    path: str, sent: str | None, exchange: Exchange, bound: float, expect: str | None, json_fields: dict[str, Any]
) -> Finding | None:
    """None when the expected reply (or the pong) came within the bound."""
    what = "the message" if sent is not None else "a ping"
    if exchange.result == "reply":
        return None
    if exchange.result == "closed":
        return (
            Status.FAIL,
            f"{path}: the server closed the connection ({_code(exchange)}) instead of replying to {what}",
        )
    if exchange.last is None:
        return Status.FAIL, f"{path}: no reply to {what} within {units.latency(bound)}"
    return (
        Status.FAIL,
        f"{path}: no reply {_expectation(expect, json_fields)} within {units.latency(bound)}; "
        f"the last was {quote(exchange.last)}",
    )


def judge_anonymous(path: str, anonymous: Anonymous) -> Finding | None:
    """None when an upgrade without credentials was refused: 401/403, or a policy-violation close after it."""
    status, exchange = anonymous.status, anonymous.exchange
    if status is None:
        return (
            Status.WARN,
            f"{path}: an upgrade without a token got no answer within {units.latency(anonymous.waited)} (expected 401 or 403)",
        )
    if status != 101:
        if status in REFUSING_STATUSES:
            return None
        return Status.WARN, f"{path}: an upgrade without a token was refused with HTTP {status}, not 401 or 403"
    if exchange is None or exchange.result == "silent":
        return (
            Status.WARN,
            f"{path}: a client without a token was upgraded (HTTP 101) and neither refused nor answered "
            f"within {units.latency(exchange.latency if exchange else anonymous.waited)}",
        )
    if exchange.result == "reply":
        return Status.FAIL, f"security hole: {path} accepted a client without a token and answered it"
    if exchange.close_code in REFUSING_CLOSE_CODES:
        return None
    return (
        Status.WARN,
        f"{path}: a client without a token was upgraded, then closed ({_code(exchange)}), not with 1008 (policy violation)",
    )


def refusal(anonymous: Anonymous) -> str:
    """How the anonymous client was refused, for the output of a good run."""
    if anonymous.status == 101 and anonymous.exchange is not None:
        return f"closed ({_code(anonymous.exchange)}) after the upgrade"
    return f"HTTP {anonymous.status}"
