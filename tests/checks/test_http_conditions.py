"""Header and body conditions of `reachable` (app/checks/http/conditions.py and their config), without a server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from app.checks.http.conditions import body_problems, header_problems
from app.checks.http.config import HeaderCondition
from app.config.settings import ConfigError, load_settings
from app.units import parse_size


def conditions(**raw: Any) -> dict[str, HeaderCondition]:
    return {name.replace("_", "-"): HeaderCondition.model_validate(value) for name, value in raw.items()}


def test_each_failed_condition_is_one_sentence() -> None:
    expected = conditions(
        X_Content_Type_Options="nosniff",
        Content_Security_Policy={"present": True},
        X_Frame_Options={"matches": "^(DENY|SAMEORIGIN)$"},
        Server={"present": False},
        Referrer_Policy={"equals": "no-referrer"},
    )
    good = {
        "x-content-type-options": "nosniff ",
        "content-security-policy": "default-src 'self'",
        "x-frame-options": "DENY",
    }
    assert header_problems({**good, "referrer-policy": "no-referrer"}, expected) == []
    bad = {"x-content-type-options": "sniff", "x-frame-options": "x" * 100, "server": "nginx"}
    assert header_problems(bad, expected) == [
        'header X-Content-Type-Options is "sniff", expected "nosniff"',
        "header Content-Security-Policy missing",
        f'header X-Frame-Options is "{"x" * 80}…", does not match "^(DENY|SAMEORIGIN)$"',
        'header Server present ("nginx"), expected absent',
        "header Referrer-Policy missing",
    ]


def test_body_conditions() -> None:
    assert body_problems("Grüße, Welcome".encode(), ["Welcome", "Grüße"]) == []
    assert body_problems(b"\xff\xfe maintenance", ["Welcome", "maintenance"]) == ['body does not contain "Welcome"']


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"present": True, "equals": "x"}, "set exactly one of present, equals, matches"),
        ({}, "set exactly one of present, equals, matches"),
        ({"matches": "(unclosed"}, "matches: not a regular expression"),
        (True, "write the expected value as a string"),
    ],
)
def test_a_condition_is_exactly_one_thing(tmp_path: Path, raw: Any, message: str) -> None:
    check = {"kind": "reachable", "expect_headers": {"X-Test": raw}}
    path = tmp_path / "vigil.yaml"
    path.write_text(
        yaml.safe_dump({"components": {"web": {"type": "http", "url": "http://w/", "checks": {"r": check}}}})
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert any(message in problem for problem in caught.value.problems), caught.value.problems


def test_body_contains_takes_one_text_or_a_list_and_head_has_no_body(tmp_path: Path) -> None:
    path = tmp_path / "vigil.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "components": {
                    "web": {
                        "type": "http",
                        "url": "http://w/",
                        "checks": {
                            "one": {"kind": "reachable", "body_contains": "ok"},
                            "two": {"kind": "reachable", "body_contains": ["a", "b"]},
                        },
                    }
                }
            }
        )
    )
    checks = load_settings(path).components["web"].checks
    assert (checks["one"].body_contains, checks["two"].body_contains) == (["ok"], ["a", "b"])
    path.write_text(
        yaml.safe_dump(
            {
                "components": {
                    "web": {
                        "type": "http",
                        "url": "http://w/",
                        "checks": {"r": {"kind": "reachable", "method": "HEAD", "body_contains": "ok"}},
                    }
                }
            }
        )
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert caught.value.problems == [
        "components.web.checks.r.method: a HEAD answer has no body; body_contains and json_fields need GET or POST"
    ]


@pytest.mark.parametrize(
    ("text", "size"),
    [
        (536870912, 536870912),
        ("512Mi", 512 * 2**20),
        ("512MiB", 512 * 2**20),
        ("1.5GiB", 3 * 2**29),
        ("500M", 500_000_000),
        ("500MB", 500_000_000),
        ("2k", 2000),
        ("64 KiB", 65536),
        ("100B", 100),
    ],
)
def test_sizes(text: Any, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["lots", "-1Mi", True, "5 parsecs", "1.5.2G"])
def test_bad_sizes(text: Any) -> None:
    with pytest.raises(ValueError):
        parse_size(text)
