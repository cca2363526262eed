"""The `http` type's wording of errors (the client words aiohttp's, app/clients/http_errors.py), and the mask that
keeps run-time tokens out of every output.

The scheduler scrubs configured secrets; tokens Vigil obtains or forges during a run are masked here, before
anything leaves the check (aiohttp's own messages carry the URL, and a WebSocket URL may carry the token).
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Awaitable
from dataclasses import replace

from app.clients.http_errors import NoAnswer, worded
from app.masking import MASK
from app.model import Observation, Outcome
from app.text import SHOWN, printable

log = logging.getLogger("vigil.checks.http")

_MIN_SEGMENT = 16  # token segments at least this long are masked on their own too (a truncated token leaks none)


class CheckError(Exception):
    """A failure the check already worded, free of tokens."""


__all__ = ["MASK", "CheckError", "NoAnswer", "TokenMask", "describe_error", "reason"]


def reason(exc: BaseException) -> str:
    """Why a request failed, without its URL (which may carry a token): the client's wording."""
    if isinstance(exc, CheckError):
        return str(exc)
    text = worded(exc)
    return text if text is not None else f"{type(exc).__name__}: {printable(str(exc), SHOWN)}"


def describe_error(exc: BaseException) -> str | None:
    if isinstance(exc, CheckError):
        return str(exc)
    return worded(exc)


class TokenMask:
    """The tokens of one run: everything the run returns or raises has them replaced by `***`."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def add(self, token: str | None) -> str | None:
        if token:
            self._secrets.add(token)
            self._secrets.update(part for part in re.split(r"[.\s]", token) if len(part) >= _MIN_SEGMENT)
        return token

    def text(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return text

    def outcome(self, outcome: Outcome) -> Outcome:
        observed = tuple(
            Observation(o.name, self.text(o.value), o.unit) if isinstance(o.value, str) else o for o in outcome.observed
        )
        latch = None if outcome.latch is None else self.text(outcome.latch)
        return replace(outcome, output=self.text(outcome.output), observed=observed, latch=latch)

    async def guard(self, run: Awaitable[Outcome]) -> Outcome:
        """Await a check's run; its outcome and any error it raises come out masked. An error nobody words is a
        bug in Vigil: logged here with its traceback, masked (the scheduler only sees the masked sentence)."""
        try:
            outcome = await run
        except Exception as exc:
            text = describe_error(exc)
            if text is None:
                log.error("unexpected error in an http check: %s", self.text("".join(traceback.format_exception(exc))))
                text = f"{type(exc).__name__}: {exc}"
            raise CheckError(self.text(text)) from None
        return self.outcome(outcome)
