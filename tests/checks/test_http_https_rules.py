"""Redirect and Strict-Transport-Security rules (app/checks/http/https_rules.py), without a server."""

from __future__ import annotations

import pytest

from app.checks.http.https_rules import Hsts, judge_hsts, judge_redirect, parse_hsts
from app.model import Status

URL = "http://api.example/"
DAY = 86400


@pytest.mark.parametrize(
    ("value", "hsts"),
    [
        ("max-age=31536000", Hsts(31536000, False, False)),
        ("max-age=31536000; includeSubDomains; preload", Hsts(31536000, True, True)),
        ('Max-Age="600" ;INCLUDESUBDOMAINS', Hsts(600, True, False)),
        ("includeSubDomains; max-age=0;", Hsts(0, True, False)),
    ],
)
def test_parse_hsts(value: str, hsts: Hsts) -> None:
    assert parse_hsts(value) == hsts


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("includeSubDomains", "no max-age"),
        ("max-age=abc", "max-age 'abc' is not a number"),
        ("max-age=-1", "max-age '-1' is not a number"),
        ("max-age=1; max-age=2", "max-age is given twice"),
        ("max-age", "max-age None is not a number"),
        ("max age=5", "cannot read the directive 'max age=5'"),
    ],
)
def test_invalid_hsts_says_why(value: str, why: str) -> None:
    with pytest.raises(ValueError, match=f"^{why}$".replace("(", r"\(").replace(")", r"\)")):
        parse_hsts(value)


def test_judge_hsts() -> None:
    minimum = 180 * DAY
    assert judge_hsts("https://a/", [], minimum, False) == (
        [(Status.FAIL, "no Strict-Transport-Security header on https://a/")],
        None,
    )
    assert judge_hsts("https://a/", ["max-age=31536000", "max-age=0"], minimum, False) == (
        [],
        Hsts(31536000, False, False),
    )  # a browser reads the first header only
    findings, _ = judge_hsts("https://a/", ["max-age=86400"], minimum, True)
    assert findings == [
        (Status.FAIL, "Strict-Transport-Security max-age is 24.0 h (86400 s), below the minimum 180d"),
        (Status.FAIL, "Strict-Transport-Security has no includeSubDomains"),
    ]
    findings, _ = judge_hsts("https://a/", ["max-age=0"], minimum, False)
    assert findings == [(Status.FAIL, "Strict-Transport-Security max-age=0 tells browsers to forget HSTS")]
    findings, hsts = judge_hsts("https://a/", ["max-age=x"], minimum, False)
    assert hsts is None
    assert findings == [
        (
            Status.FAIL,
            "Strict-Transport-Security \"max-age=x\" is invalid (max-age 'x' is not a number); browsers ignore it",
        )
    ]


@pytest.mark.parametrize(
    ("status", "location", "findings", "to"),
    [
        (301, "https://api.example/", [], "https://api.example/"),
        (308, "https://api.example:8443/x", [], "https://api.example:8443/x"),
        (
            302,
            "https://api.example/",
            [
                (
                    Status.WARN,
                    "http://api.example/ redirects to https with HTTP 302, a temporary redirect browsers do not "
                    "remember; use 301 or 308",
                )
            ],
            "https://api.example/",
        ),
        (200, None, [(Status.FAIL, "http://api.example/ answered HTTP 200 instead of redirecting to https")], None),
        (301, None, [(Status.FAIL, "http://api.example/ answered HTTP 301 without a Location")], None),
        (
            301,
            "/login",
            [(Status.FAIL, "http://api.example/ redirects to http://api.example/login, not to https")],
            "http://api.example/login",
        ),
        (
            301,
            "https://evil.example/",
            [
                (
                    Status.FAIL,
                    "http://api.example/ redirects to another host (evil.example), not to https on api.example",
                )
            ],
            "https://evil.example/",
        ),
    ],
)
def test_judge_redirect(status: int, location: str | None, findings: list[tuple[Status, str]], to: str | None) -> None:
    assert judge_redirect(URL, status, location) == (findings, to)
