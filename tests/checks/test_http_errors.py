"""Error wording and the run-time token mask (app/checks/http/errors.py), without a server."""

from __future__ import annotations

import logging
import secrets

import pytest

from app.checks.http.errors import CheckError, NoAnswer, TokenMask, describe_error
from app.model import Observation, Outcome, Status


def a_token() -> str:
    return f"eyJhbGciOiJIUzI1NiJ9.{secrets.token_urlsafe(24)}.{secrets.token_urlsafe(32)}"


async def test_outcomes_and_errors_come_out_masked(caplog: pytest.LogCaptureFixture) -> None:
    mask, token = TokenMask(), a_token()
    mask.add(token)
    signature = token.rsplit(".", 1)[1]

    async def returns() -> Outcome:
        return Outcome(Status.FAIL, f"saw {token} and {signature[:20]}..{signature}", (Observation("echo", token),))

    outcome = await mask.guard(returns())
    assert token not in outcome.output and signature not in outcome.output
    assert outcome.observed == (Observation("echo", "***"),)

    async def raises_known() -> Outcome:
        raise NoAnswer(1.5)

    with pytest.raises(CheckError, match=r"^no answer within 1.5 s$"):
        await mask.guard(raises_known())

    async def raises_unknown() -> Outcome:
        raise KeyError(f"ws://host/ws?token={token}")

    caplog.set_level(logging.ERROR)
    with pytest.raises(CheckError) as caught:
        await mask.guard(raises_unknown())
    assert str(caught.value) == "KeyError: 'ws://host/ws?token=***'"
    assert "Traceback" in caplog.text and "raises_unknown" in caplog.text
    assert token not in caplog.text and signature not in caplog.text


def test_only_known_errors_are_worded() -> None:
    assert describe_error(CheckError("said")) == "said"
    assert describe_error(NoAnswer(0.25)) == "no answer within 250 ms"
    assert describe_error(ValueError("bug")) is None
