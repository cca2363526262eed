"""The WebSocket judging rules (app/checks/http/websocket_rules.py), without a server."""

from __future__ import annotations

from app.checks.http.websocket_rules import Anonymous, Exchange, judge_anonymous, judge_reply, matches, refusal
from app.model import Status


def test_matches_substring_and_json_fields() -> None:
    assert matches('{"type":"pong"}', '"pong"', {})
    assert matches('{"type":"pong","n":1}', None, {"type": "pong", "n": 1})
    assert not matches('{"type":"pong"}', None, {"type": "ping"})
    assert not matches("pong", None, {"type": "pong"})  # not JSON
    assert matches("anything", None, {})


def test_reply_judgement() -> None:
    assert judge_reply("/ws", "hi", Exchange("reply", 0.01), 2, None, {}) is None
    assert judge_reply("/ws", None, Exchange("silent", 2), 2, None, {}) == (
        Status.FAIL,
        "/ws: no reply to a ping within 2 s",
    )
    assert judge_reply("/ws", "hi", Exchange("closed", 0.1, close_code=1011), 2, None, {}) == (
        Status.FAIL,
        "/ws: the server closed the connection (code 1011) instead of replying to the message",
    )
    assert judge_reply("/ws", "hi", Exchange("silent", 0.5, last="hello"), 0.5, "pong", {"type": "pong"}) == (
        Status.FAIL,
        '/ws: no reply containing \'pong\' and with type = "pong" within 500 ms; the last was "hello"',
    )


def test_anonymous_judgement() -> None:
    assert judge_anonymous("/ws", Anonymous(403)) is None
    assert judge_anonymous("/ws", Anonymous(401)) is None
    assert judge_anonymous("/ws", Anonymous(101, Exchange("closed", 0.01, close_code=1008))) is None
    assert judge_anonymous("/ws", Anonymous(101, Exchange("reply", 0.01))) == (
        Status.FAIL,
        "security hole: /ws accepted a client without a token and answered it",
    )
    assert judge_anonymous("/ws", Anonymous(101, Exchange("silent", 2))) == (
        Status.WARN,
        "/ws: a client without a token was upgraded (HTTP 101) and neither refused nor answered within 2 s",
    )
    assert judge_anonymous("/ws", Anonymous(101, Exchange("closed", 0.01, close_code=1000)))[0] is Status.WARN  # type: ignore[index]
    assert judge_anonymous("/ws", Anonymous(400)) == (
        Status.WARN,
        "/ws: an upgrade without a token was refused with HTTP 400, not 401 or 403",
    )
    assert judge_anonymous("/ws", Anonymous(None, waited=1.5)) == (
        Status.WARN,
        "/ws: an upgrade without a token got no answer within 1.5 s (expected 401 or 403)",
    )
    assert refusal(Anonymous(403)) == "HTTP 403"
    assert refusal(Anonymous(101, Exchange("closed", 0.01, close_code=1008))) == "closed (code 1008) after the upgrade"
