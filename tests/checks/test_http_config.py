"""The `cors`, `jwt` and `websocket` options as the config file gives them: validation naming the field,
timeouts that cover the requests, and every secret (client secret, signing key) masked like the others."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.config.fields import Severity
from app.config.settings import ConfigError, load_settings

ROUTE = {"path": "/api/me", "method": "PUT", "headers": ["Authorization", "Content-Type"]}


def checks(**checks: dict[str, Any]) -> dict[str, Any]:
    return {"components": {"api": {"type": "http", "url": "https://api.example/", "checks": checks}}}


def jwt_check(**extra: Any) -> dict[str, Any]:
    return {"kind": "jwt", "signing_key": "k" * 32, "protected": {"path": "/api/me"}, **extra}


def problems(tmp_path: Path, data: dict[str, Any]) -> list[str]:
    path = tmp_path / "vigil.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    return caught.value.problems


def load(tmp_path: Path, data: dict[str, Any]) -> Any:
    path = tmp_path / "vigil.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_settings(path)


def test_the_issue_example_loads_with_defaults(tmp_path: Path) -> None:
    secret = tmp_path / "probe"
    secret.write_text("client-secret-value\n")
    settings = load(
        tmp_path,
        checks(
            cors={"routes": [ROUTE], "allowed_origins": ["https://app.example"], "credentials": True},
            auth={
                "kind": "jwt",
                "token": {"url": "/auth/token", "client_id": "svc-probe", "client_secret_file": str(secret)},
                "protected": {"path": "/api/me"},
            },
            socket={
                "kind": "websocket",
                "path": "/ws",
                "origin": "https://app.example",
                "auth": {"check": "auth", "query": "token"},
                "send": '{"type":"ping"}',
                "expect": '"pong"',
            },
        ),
    )
    api = settings.components["api"]
    cors, auth, socket = api.checks["cors"], api.checks["auth"], api.checks["socket"]
    assert (cors.kind, cors.disallowed_origin, cors.request_timeout) == ("cors", None, 2.0)
    assert auth.token.client_secret.get_secret_value() == "client-secret-value"
    assert (auth.token.body, auth.token.timeout, auth.protected.method, auth.protected.refuse_status) == (
        "form",
        2.0,
        "GET",
        [401, 403],
    )
    assert (socket.handshake_timeout, socket.reply_timeout, socket.auth.refuse_anonymous) == (2.0, 2.0, True)
    assert {settings.schedule("api", name).severity for name in ("cors", "auth", "socket")} == {Severity.CRITICAL}


@pytest.mark.parametrize(
    ("socket_auth", "other", "message"),
    [
        ({"check": "nope", "query": "token"}, {}, "checks.socket.auth.check: no check named 'nope' in this component"),
        (
            {"check": "home", "query": "token"},
            {"home": {"kind": "reachable"}},
            "checks.socket.auth.check: 'home' is a reachable check; the token comes from a jwt check",
        ),
        ({"check": "auth"}, {"auth": jwt_check()}, "set exactly one of auth.query, auth.header, auth.subprotocol"),
    ],
)
def test_websocket_auth_must_name_a_jwt_check(
    tmp_path: Path, socket_auth: dict[str, Any], other: dict[str, Any], message: str
) -> None:
    found = problems(tmp_path, checks(socket={"kind": "websocket", "path": "/ws", "auth": socket_auth}, **other))
    assert len(found) == 1 and found[0].startswith("components.api") and found[0].endswith(message), found


def test_bad_options_name_their_field(tmp_path: Path) -> None:
    pem_public = (
        "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEVs/o5+uQbTjL3chynL4wXgUg2R9\n"
        "q9UU8I5mEovUf86QZ7kOBIjJwqnzD1omageEHWwHdBO6B+dFabmdT9POxg==\n-----END PUBLIC KEY-----\n"
    )
    found = problems(
        tmp_path,
        checks(
            cors={"routes": [ROUTE], "allowed_origins": ["https://app.example/path"]},
            again={
                "kind": "cors",
                "routes": [ROUTE],
                "allowed_origins": ["https://a.example"],
                "disallowed_origin": "https://a.example",
            },
            auth={"kind": "jwt", "protected": {"path": "/api/me"}},
            pub={"kind": "jwt", "algorithm": "ES256", "signing_key": pem_public, "protected": {"path": "/x"}},
            rsa={"kind": "jwt", "algorithm": "RS256", "signing_key": "not a pem", "protected": {"path": "/x"}},
            socket={"kind": "websocket", "path": "/ws", "expect": "pong"},
        ),
    )
    joined = "\n".join(found)
    assert "components.api.checks.cors.allowed_origins.0: Value error" not in joined
    assert "'https://app.example/path' is not an origin" in joined
    assert "components.api.checks.again.disallowed_origin: is also in allowed_origins" in found
    assert (
        "components.api.checks.auth.token: set token (a token endpoint) or signing_key (Vigil mints the token)" in found
    )
    assert "components.api.checks.pub.signing_key: a public key cannot sign; ES256 needs the private key" in found
    assert "components.api.checks.rsa.signing_key: not a usable RS256 signing key" in found
    assert (
        "components.api.checks.socket.send: expect and json_fields judge the reply to a message; set send too" in found
    )


def test_the_check_timeout_must_cover_its_requests(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        {
            "defaults": {"interval": "10s", "timeout": "3s"},
            **checks(
                cors={"routes": [ROUTE], "allowed_origins": ["https://a.example"], "request_timeout": "3s"},
                auth=jwt_check(token={"url": "/t", "client_id": "c", "timeout": "2s"}, request_timeout="1500ms"),
                socket={"kind": "websocket", "path": "/ws", "handshake_timeout": "2s", "reply_timeout": "2s"},
            ),
        },
    )
    assert found == [
        "components.api.checks.cors.timeout: 3s must be longer than request_timeout (3s)",
        "components.api.checks.auth.timeout: 3s must be longer than token.timeout + request_timeout (3.5s)",
        "components.api.checks.socket.timeout: 3s must be longer than handshake_timeout + reply_timeout (4s)",
    ]


def test_client_secret_and_signing_key_are_masked(tmp_path: Path) -> None:
    client_secret, signing_key = secrets.token_urlsafe(24), secrets.token_urlsafe(32)
    settings = load(
        tmp_path,
        checks(
            auth=jwt_check(
                signing_key=signing_key, token={"url": "/t", "client_id": "c", "client_secret": client_secret}
            )
        ),
    )
    assert {client_secret, signing_key} <= set(settings.secret_values())
    shown = str(settings.redacted())
    assert client_secret not in shown and signing_key not in shown
