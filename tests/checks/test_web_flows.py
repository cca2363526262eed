"""The `jwt` and `websocket` checks' other paths against the real demo API: where the token comes from (token
endpoint only, minted only, RS256), a token endpoint that hangs or refuses, the token in a header or a
subprotocol, refusal by a close after the upgrade, ping/pong, wrong replies, and a redirected upgrade.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.model import CheckId, Status
from devenv.webapp import WebAppOptions, serve
from tests.checks.test_web_api import api_config, api_settings, free_port, run_all, shown
from tests.conftest import HttpTarget, check_runner, make_settings, run_check

NOT_TRIED = "not tried: expired, another audience (they need signing_key)"


async def test_token_endpoint_only_names_the_cases_not_tried_and_the_websocket_reuses_its_token() -> None:
    async with serve(WebAppOptions(), free_port()) as served:
        config = api_config(served)
        for option in ("signing_key", "audience", "issuer"):
            del config["checks"]["auth"][option]
        settings = make_settings(defaults={"interval": 30, "timeout": 6}, components={"api": config})
        async with check_runner(settings) as scheduler:
            auth = await scheduler.runners[CheckId("api", "auth")].run(scheduled=False)
            first = await scheduler.runners[CheckId("api", "socket")].run(scheduled=False)
            second = await scheduler.runners[CheckId("api", "socket")].run(scheduled=False)
        requests = served.app.token_requests
    assert auth.status is Status.PASS, auth.output
    assert auth.output.endswith("and refused 4 bad tokens: no token, another key, tampered, alg: none; " + NOT_TRIED)
    assert (first.status, second.status) == (Status.PASS, Status.PASS), (first.output, second.output)
    assert requests == 2  # one for the jwt check, one for the WebSocket check's two runs (cached until near expiry)


async def test_minted_token_without_a_token_endpoint() -> None:
    async with serve(WebAppOptions(), free_port()) as served:
        config = api_config(served)
        del config["checks"]["auth"]["token"]
        settings = make_settings(defaults={"interval": 30, "timeout": 6}, components={"api": config})
        results = await run_all(settings, ("auth", "socket"))
        requests = served.app.token_requests
    assert all(r.status is Status.PASS for r in results.values()), shown(results)
    assert "refused 6 bad tokens" in results["auth"].output
    assert "token_latency" not in {o.name for o in results["auth"].observed}
    assert requests == 0


def rsa_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private.decode(), public.decode()


async def test_rs256_tokens_and_a_wrong_key_made_once() -> None:
    private, public = rsa_pair()
    options = WebAppOptions(algorithm="RS256", signing_key=private, verification_key=public)
    async with serve(options, free_port()) as served:
        settings = api_settings(served, auth={"algorithm": "RS256"})
        async with check_runner(settings) as scheduler:
            runner = scheduler.runners[CheckId("api", "auth")]
            first = await runner.run(scheduled=False)
            wrong_key = runner.memo.other_keys["RS256"]
            second = await runner.run(scheduled=False)
            socket = await scheduler.runners[CheckId("api", "socket")].run(scheduled=False)
    assert (first.status, second.status, socket.status) == (Status.PASS,) * 3, (first.output, socket.output)
    assert "refused 6 bad tokens" in second.output
    assert runner.memo.other_keys["RS256"] is wrong_key and wrong_key.startswith("-----BEGIN PRIVATE KEY-----")


async def test_a_token_endpoint_that_hangs_fails_with_its_own_output() -> None:
    async with serve(WebAppOptions(token_endpoint_hangs=True), free_port()) as served:
        settings = api_settings(served, auth={"token": {**api_config(served)["checks"]["auth"]["token"], "timeout": 1}})
        result = await run_check(settings, "api", "auth")
    assert (result.status, result.output) == (Status.FAIL, "token endpoint POST /auth/token: no answer within 1 s")
    assert result.duration < 6  # the token endpoint's own bound, not the check's timeout


async def test_token_endpoint_json_body_wrong_secret_and_short_lived_tokens() -> None:
    async with serve(WebAppOptions(token_lifetime=20), free_port()) as served:
        token = api_config(served)["checks"]["auth"]["token"]
        as_json = await run_check(api_settings(served, auth={"token": {**token, "body": "json"}}), "api", "auth")
        refused = await run_check(
            api_settings(served, auth={"token": {**token, "client_secret": "not-the-secret"}}), "api", "auth"
        )
    assert as_json.status is Status.WARN
    assert as_json.output.startswith("the token issued by POST /auth/token expires in ")
    assert as_json.output.endswith("sooner than the interval (30s)")
    assert (refused.status, refused.output) == (
        Status.FAIL,
        "token endpoint POST /auth/token answered HTTP 401 (invalid_client)",
    )


async def test_websocket_token_in_a_header_or_a_subprotocol() -> None:
    async with serve(WebAppOptions(), free_port()) as served:
        header = await run_check(
            api_settings(served, socket={"auth": {"check": "auth", "header": "Authorization"}}), "api", "socket"
        )
        subprotocol = await run_check(
            api_settings(served, socket={"auth": {"check": "auth", "subprotocol": "bearer"}}), "api", "socket"
        )
    assert header.status is Status.PASS, header.output
    assert subprotocol.status is Status.PASS, subprotocol.output


async def test_anonymous_refused_by_a_policy_close_after_the_upgrade() -> None:
    async with serve(WebAppOptions(ws_refuse_after_upgrade=True), free_port()) as served:
        result = await run_check(api_settings(served), "api", "socket")
    assert result.status is Status.PASS, result.output
    assert result.output.endswith("; without a token refused (closed (code 1008) after the upgrade)")


async def test_websocket_ping_pong_json_fields_and_a_wrong_reply() -> None:
    async with serve(WebAppOptions(), free_port()) as served:

        def socket(**options: Any) -> Any:
            return api_settings(served, socket={"send": None, "expect": None, **options})

        ping = await run_check(socket(), "api", "socket")
        fields = await run_check(socket(send='{"type":"ping"}', json_fields={"type": "pong"}), "api", "socket")
        wrong = await run_check(socket(send='{"type":"ping"}', expect="nope", reply_timeout=0.5), "api", "socket")
    assert ping.status is Status.PASS and "reply in" in ping.output, ping.output
    assert fields.status is Status.PASS, fields.output
    assert wrong.status is Status.FAIL
    assert wrong.output.startswith(
        '/ws: no reply containing \'nope\' within 500 ms; the last was "{\\"type\\": \\"pong\\", '
    )


async def test_an_upgrade_answered_with_a_redirect_is_not_followed(http_target: HttpTarget) -> None:
    settings = make_settings(
        defaults={"interval": 30, "timeout": 5},
        components={
            "api": {
                "type": "http",
                "url": http_target.url,
                "checks": {"socket": {"kind": "websocket", "path": "/redirect"}},
            }
        },
    )
    result = await run_check(settings, "api", "socket")
    assert (result.status, result.output) == (
        Status.FAIL,
        "the upgrade of /redirect failed: answered HTTP 302 (a redirect to /ok), not 101",
    )


async def test_a_target_that_is_down_is_named_per_step() -> None:
    port = free_port()  # nothing listens there
    async with serve(WebAppOptions(), free_port()) as served:
        config = api_config(served, url=f"http://127.0.0.1:{port}/")
    settings = make_settings(defaults={"interval": 30, "timeout": 6}, components={"api": config})
    results = await run_all(settings)
    assert all(r.status is Status.FAIL for r in results.values())
    refused = f"cannot reach the HTTP server at 127.0.0.1:{port}: connection refused"
    assert results["cors"].output == f"the preflight of PUT /api/me from https://app.example: {refused}"
    assert results["auth"].output == f"token endpoint POST /auth/token: {refused}"
    assert results["socket"].output == (
        f"the upgrade of /ws with a token minted with signing_key (HS256) failed: {refused}"
    )


async def test_the_default_disallowed_origin_is_random_and_kept_between_runs() -> None:
    async with serve(WebAppOptions(cors_echo_any_origin=True), free_port()) as served:
        settings = api_settings(served, cors={"disallowed_origin": None})
        async with check_runner(settings) as scheduler:
            runner = scheduler.runners[CheckId("api", "cors")]
            first, second = await runner.run(scheduled=False), await runner.run(scheduled=False)
    assert first.status is Status.FAIL
    assert first.output.startswith("the disallowed origin https://vigil-") and ".invalid is echoed" in first.output
    assert first.output == second.output
