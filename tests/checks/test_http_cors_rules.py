"""The CORS judging rules (app/checks/http/cors_rules.py), without a server: what a browser would refuse."""

from __future__ import annotations

import pytest

from app.checks.http.cors_rules import Preflight, judge_disallowed, judge_preflight, max_age, varies_on_origin

ORIGIN = "https://app.example"
PUT = Preflight("PUT", "/api/me", ("Authorization", "Content-Type"), ORIGIN, credentials=True)
GOOD = {
    "access-control-allow-origin": ORIGIN,
    "access-control-allow-credentials": "true",
    "access-control-allow-methods": "GET, PUT",
    "access-control-allow-headers": "authorization, content-type",
    "vary": "Accept-Encoding, Origin",
}


def test_a_good_answer_has_no_problem() -> None:
    assert judge_preflight(PUT, 204, GOOD) == []


@pytest.mark.parametrize(
    ("status", "change", "problem"),
    [
        (405, {}, "preflight answered HTTP 405"),
        (204, {"access-control-allow-origin": None}, "no Access-Control-Allow-Origin"),
        (
            204,
            {"access-control-allow-origin": "*"},
            "Access-Control-Allow-Origin is '*' with credentials (Access-Control-Allow-Credentials: \"true\"); "
            "browsers refuse it",
        ),
        (204, {"access-control-allow-origin": "https://other.example"}, 'is "https://other.example", not the origin'),
        (204, {"vary": "Accept-Encoding"}, 'echoed without Vary: Origin (Vary: "Accept-Encoding")'),
        (204, {"vary": None}, "echoed without Vary: Origin (Vary: absent)"),
        (
            204,
            {"access-control-allow-credentials": None},
            "Access-Control-Allow-Credentials is absent, expected 'true'",
        ),
        (
            204,
            {"access-control-allow-methods": "GET, put"},
            'method PUT not allowed (Access-Control-Allow-Methods: "GET, put")',
        ),
        (204, {"access-control-allow-methods": "*"}, "method PUT not allowed"),  # `*` is literal with credentials
        (204, {"access-control-allow-headers": "Content-Type"}, "header Authorization not allowed"),
        (204, {"access-control-allow-headers": "*"}, "header Authorization not allowed"),
    ],
)
def test_each_problem_names_route_origin_and_header(status: int, change: dict[str, str | None], problem: str) -> None:
    headers = {**GOOD, **change}
    problems = judge_preflight(PUT, status, {k: v for k, v in headers.items() if v is not None})
    assert len(problems) >= 1
    assert problems[0].startswith("PUT /api/me from https://app.example: ")
    assert problem in " ".join(problems)


def test_without_credentials_wildcards_are_fine_except_for_authorization() -> None:
    ask = Preflight("DELETE", "/items", ("X-Trace", "Authorization"), ORIGIN, credentials=False)
    headers = {
        "access-control-allow-origin": "*",
        "access-control-allow-methods": "*",
        "access-control-allow-headers": "*",
    }
    assert judge_preflight(ask, 200, headers) == [
        'DELETE /items from https://app.example: header Authorization not allowed (Access-Control-Allow-Headers: "*")'
    ]
    ask = Preflight("DELETE", "/items", ("X-Trace",), ORIGIN, credentials=False)
    assert judge_preflight(ask, 200, headers) == []


def test_wildcard_origin_with_credentials_header_fails_even_when_not_asked_for() -> None:
    ask = Preflight("GET", "/items", (), ORIGIN, credentials=False)
    problems = judge_preflight(
        ask, 204, {"access-control-allow-origin": "*", "access-control-allow-credentials": "true"}
    )
    assert problems == [
        "GET /items from https://app.example: Access-Control-Allow-Origin is '*' with credentials "
        '(Access-Control-Allow-Credentials: "true"); browsers refuse it'
    ]


def test_safelisted_methods_need_no_allow_methods() -> None:
    ask = Preflight("POST", "/items", ("Content-Type",), ORIGIN, credentials=False)
    headers = {"access-control-allow-origin": ORIGIN, "vary": "origin", "access-control-allow-headers": "content-type"}
    assert judge_preflight(ask, 204, headers) == []


def test_the_disallowed_origin_must_not_be_echoed() -> None:
    evil = "https://evil.example"
    echoed = {"access-control-allow-origin": evil, "access-control-allow-credentials": "true"}
    assert judge_disallowed(evil, [("the preflight of PUT /x", {}), ("a simple GET /x", {"vary": "Origin"})]) == []
    assert judge_disallowed(evil, [("the preflight of PUT /x", {"access-control-allow-origin": "*"})]) == []
    assert judge_disallowed(evil, [("the preflight of PUT /x", {}), ("a simple GET /x", echoed)]) == [
        "the disallowed origin https://evil.example is echoed in Access-Control-Allow-Origin with credentials "
        "on a simple GET /x: any site can call this API"
    ]


def test_vary_and_max_age_parsing() -> None:
    assert varies_on_origin("Accept-Encoding, ORIGIN") and varies_on_origin("*")
    assert not varies_on_origin(None) and not varies_on_origin("Origin-Agent")
    assert max_age({"access-control-max-age": "600"}) == 600.0
    assert max_age({"access-control-max-age": "soon"}) is None and max_age({}) is None
