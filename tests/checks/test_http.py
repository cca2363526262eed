"""The `http` component's `reachable` check against a real aiohttp app on loopback."""

from __future__ import annotations

import re
from typing import Any

import pytest

from app.checks.http.json_fields import lookup, mismatches
from app.model import Status
from tests.conftest import HttpTarget, make_settings, run_check


def reachable(target: HttpTarget, **options: Any) -> Any:
    return make_settings(
        defaults={"interval": 5, "timeout": 2},
        components={
            "api": {
                "type": "http",
                "url": target.url,
                "connect_timeout": 0.5,
                "checks": {"r": {"kind": "reachable", **options}},
            }
        },
    )


async def test_pass_with_status_latency_and_json_fields(http_target: HttpTarget) -> None:
    result = await run_check(
        reachable(http_target, path="/ok", json_fields={"status": "ok", "deps.db": "up"}, latency_budget=1), "api", "r"
    )
    assert result.status is Status.PASS
    assert result.output.startswith("HTTP 200 in ")
    observed = {o.name: (o.value, o.unit) for o in result.observed}
    assert observed["status_code"] == (200, None)
    assert observed["latency"][1] == "s" and 0 < observed["latency"][0] < 1  # type: ignore[operator]


async def test_unexpected_status_fails(http_target: HttpTarget) -> None:
    result = await run_check(reachable(http_target, path="/status/500"), "api", "r")
    assert (result.status, result.output) == (Status.FAIL, "HTTP 500, expected 200")
    accepted = await run_check(reachable(http_target, path="/status/204", expect_status=[200, 204]), "api", "r")
    assert accepted.status is Status.PASS


async def test_redirects_are_not_followed_unless_configured(http_target: HttpTarget) -> None:
    result = await run_check(reachable(http_target, path="/redirect"), "api", "r")
    assert (result.status, result.output) == (Status.FAIL, "HTTP 302, expected 200")
    followed = await run_check(reachable(http_target, path="/redirect", follow_redirects=True), "api", "r")
    assert followed.status is Status.PASS
    assert {o.name: o.value for o in followed.observed}["redirects"] == 1


async def test_json_field_mismatch_missing_and_not_json(http_target: HttpTarget) -> None:
    wrong = await run_check(reachable(http_target, path="/ok", json_fields={"status": "down", "nope.x": 1}), "api", "r")
    assert wrong.status is Status.FAIL
    assert wrong.output == 'JSON field status is "ok", expected "down"; JSON field nope.x missing'
    text = await run_check(reachable(http_target, path="/text", json_fields={"status": "ok"}), "api", "r")
    assert (text.status, text.output) == (Status.FAIL, "body is not JSON")


async def test_latency_warn_and_budget(http_target: HttpTarget) -> None:
    warn = await run_check(reachable(http_target, path="/slow?delay=0.3", latency_warn=0.1), "api", "r")
    assert warn.status is Status.WARN
    assert re.fullmatch(r"GET took [\d.]+ ms, at or above the 100ms warn threshold", warn.output), warn.output
    fail = await run_check(reachable(http_target, path="/slow?delay=0.3", latency_budget=0.1), "api", "r")
    assert fail.status is Status.FAIL
    assert re.fullmatch(r"GET took [\d.]+ ms, at or above the 100ms budget", fail.output), fail.output


async def test_slow_target_hits_the_check_deadline(http_target: HttpTarget) -> None:
    settings = make_settings(
        defaults={"interval": 5, "timeout": 0.5},
        components={
            "api": {
                "type": "http",
                "url": http_target.url,
                "connect_timeout": 0.2,
                "checks": {"r": {"kind": "reachable", "path": "/slow?delay=3"}},
            }
        },
    )
    result = await run_check(settings, "api", "r")
    assert result.status is Status.FAIL
    assert result.duration < 0.8
    assert result.output == "timed out after 500ms"  # the run's deadline, never one of aiohttp's timers


@pytest.mark.parametrize(
    ("path", "found", "value"),
    [("a.b", True, 1), ("a.list.1", True, "y"), ("a.list.9", False, None), ("a.c", False, None), ("a", True, None)],
)
def test_lookup(path: str, found: bool, value: Any) -> None:
    document = {"a": {"b": 1, "list": ["x", "y"]}}
    got_found, got = lookup(document, path)
    assert got_found is found
    if found and value is not None:
        assert got == value


def test_credentials_in_plain_headers_are_masked() -> None:
    settings = make_settings(
        components={
            "api": {
                "type": "http",
                "url": "http://127.0.0.1:1/",
                "headers": {
                    "Authorization": "Bearer header-token-value",
                    "X-Api-Key": "api-key-value",
                    "Accept": "application/json",
                },
            }
        },
    )
    shown = str(settings.redacted())
    assert "header-token-value" not in shown and "api-key-value" not in shown
    assert "application/json" in shown


async def test_https_with_a_private_ca(https_target: tuple[HttpTarget, Any]) -> None:
    target, ca_file = https_target

    def settings(**component: Any) -> Any:
        return make_settings(
            defaults={"interval": 5, "timeout": 2},
            components={
                "api": {
                    "type": "http",
                    "url": target.url,
                    "connect_timeout": 0.5,
                    **component,
                    "checks": {"r": {"kind": "reachable", "path": "/ok"}},
                }
            },
        )

    trusted = await run_check(settings(tls_ca_file=str(ca_file)), "api", "r")
    assert trusted.status is Status.PASS, trusted.output
    untrusted = await run_check(settings(), "api", "r")
    assert untrusted.status is Status.FAIL
    assert "does not verify: self-signed certificate" in untrusted.output
    unverified = await run_check(settings(verify_tls=False), "api", "r")
    assert unverified.status is Status.PASS


def test_json_too_deep_to_parse_is_not_json() -> None:
    assert mismatches(b"[" * 100_000, {"status": "ok"}) == ["body is not JSON (nested too deeply to read)"]
    assert mismatches(b'{"status": "ok"}', {"status": "ok"}) == []
