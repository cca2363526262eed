"""Bearer JWT verification (app/api/auth.py): every rejection is 401, a token without the scope 403, over real HTTP too."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from typing import Any

import pytest
from jose import jwt

from app.api.auth import AuthError, Verifier
from app.config.settings import AuthConfig
from tests.conftest import AUTH, JWT_AUDIENCE, JWT_ISSUER, JWT_SECRET, http, make_settings, make_token, rsa_pair, serve

OTHER_SECRET = "a-different-hmac-secret-that-is-long-enough-987654"


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def unsigned(alg: str = "none", **overrides: Any) -> str:
    """A hand-made `alg: none` token: header.payload. with an empty signature."""
    payload = {
        "sub": "mallory",
        "aud": JWT_AUDIENCE,
        "iss": JWT_ISSUER,
        "exp": int(time.time()) + 300,
        "scope": "vigil:run",
        **overrides,
    }
    return f"{b64({'alg': alg, 'typ': 'JWT'})}.{b64(payload)}."


def resign_header(token: str, **header: Any) -> str:
    """Swap the header of a valid token, keeping its signature (must then fail verification)."""
    _, payload, signature = token.split(".")
    return f"{b64({'alg': 'HS256', 'typ': 'JWT', **header})}.{payload}.{signature}"


def hmac_with(key: str) -> str:
    """An HS256 token signed by hand with `key` (python-jose refuses PEM keys as HMAC secrets itself)."""
    payload = {"aud": JWT_AUDIENCE, "iss": JWT_ISSUER, "exp": int(time.time()) + 60, "scope": "vigil:run"}
    signing_input = f"{b64({'alg': 'HS256', 'typ': 'JWT'})}.{b64(payload)}"
    digest = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}"


@pytest.fixture(scope="module")
def rsa_keys() -> tuple[str, str]:
    return rsa_pair()


HS = Verifier(AuthConfig(**AUTH))


def signed_with_header(**header: Any) -> str:
    """A valid HS256 token whose protected header carries `header` as well (signed over it)."""
    payload = {"aud": JWT_AUDIENCE, "iss": JWT_ISSUER, "exp": int(time.time()) + 300, "scope": "vigil:run"}
    return str(jwt.encode(payload, JWT_SECRET, algorithm="HS256", headers=header))


EXPIRY = "missing or invalid expiry"
CRIT = "token names critical extensions Vigil does not support"

# (name, Authorization header, expected detail)
REJECTED: list[tuple[str, str | None, str]] = [
    ("missing", None, "missing bearer token"),
    ("empty", "", "missing bearer token"),
    ("not bearer", f"Basic {make_token()}", "authorization header must be 'Bearer <token>'"),
    ("bearer without token", "Bearer ", "authorization header must be 'Bearer <token>'"),
    ("malformed", "Bearer not.a.jwt", "malformed token"),
    ("garbage", "Bearer abc", "malformed token"),
    ("expired", f"Bearer {make_token(expires_in=-60)}", "token expired"),
    ("wrongly signed", f"Bearer {make_token(secret=OTHER_SECRET)}", "signature verification failed"),
    (
        "tampered payload",
        "Bearer "
        + ".".join(
            [
                make_token().split(".")[0],
                b64(
                    {
                        "aud": JWT_AUDIENCE,
                        "iss": JWT_ISSUER,
                        "exp": int(time.time()) + 300,
                        "scope": "vigil:run",
                        "sub": "admin",
                    }
                ),
                make_token().split(".")[2],
            ]
        ),
        "signature verification failed",
    ),
    ("wrong audience", f"Bearer {make_token(audience='someone-else')}", "invalid or missing audience"),
    ("wrong issuer", f"Bearer {make_token(issuer='https://evil.test')}", "invalid or missing issuer"),
    ("no aud", f"Bearer {make_token(audience=None)}", "invalid or missing audience"),
    ("no iss", f"Bearer {make_token(issuer=None)}", "invalid or missing issuer"),
    ("no exp", f"Bearer {make_token(expires_in=None)}", "missing or invalid expiry"),
    ("alg none", f"Bearer {unsigned()}", "token algorithm not allowed"),
    ("alg None", f"Bearer {unsigned('None')}", "token algorithm not allowed"),
    (
        "alg none with HS256 signature",
        f"Bearer {resign_header(make_token(), alg='none')}",
        "token algorithm not allowed",
    ),
    ("alg not configured", f"Bearer {make_token(algorithm='HS512')}", "token algorithm not allowed"),
    ("not yet valid", f"Bearer {make_token(nbf=int(time.time()) + 600)}", "invalid claims"),
    ("exp null", f"Bearer {make_token(expires_in=None, exp=None)}", "invalid claims"),
    ("exp not a number", f"Bearer {make_token(expires_in=None, exp='soon')}", "missing or invalid expiry"),
    ("nbf list", f"Bearer {make_token(nbf=[1])}", "invalid claims"),
    # RFC 7519: NumericDate is a JSON number; a string that int() would read is refused all the same.
    ("exp a numeric string", f"Bearer {make_token(expires_in=None, exp=str(int(time.time()) + 300))}", EXPIRY),
    ("exp a float string", f"Bearer {make_token(expires_in=None, exp=f'{time.time() + 300:.1f}')}", EXPIRY),
    ("nbf a numeric string", f"Bearer {make_token(nbf=str(int(time.time()) - 60))}", "invalid claims"),
    ("iat a numeric string", f"Bearer {make_token(iat=str(int(time.time())))}", "invalid claims"),
    # RFC 7515 4.1.11: Vigil understands no extension, so any `crit` is one it must refuse; signed correctly.
    (
        "crit extension",
        f"Bearer {signed_with_header(crit=['http://example.test/ext'], **{'http://example.test/ext': 1})}",
        CRIT,
    ),
    ("crit known header", f"Bearer {signed_with_header(crit=['exp'])}", CRIT),
    ("crit empty", f"Bearer {signed_with_header(crit=[])}", CRIT),
    ("crit not a list", f"Bearer {signed_with_header(crit='b64')}", CRIT),
    ("aud not a string", f"Bearer {make_token(audience=None, aud=5)}", "invalid claims"),
    ("aud list without ours", f"Bearer {make_token(audience=None, aud=['a', 'b'])}", "invalid or missing audience"),
]


@pytest.mark.parametrize(("name", "header", "detail"), REJECTED, ids=[r[0] for r in REJECTED])
def test_rejections_are_401_with_a_clear_reason(name: str, header: str | None, detail: str) -> None:
    with pytest.raises(AuthError) as caught:
        HS.verify(header, require_scope=True)
    assert caught.value.status == 401
    assert caught.value.detail == detail
    assert caught.value.error in ("invalid_request", "invalid_token")
    assert JWT_SECRET not in caught.value.www_authenticate()


def test_valid_token_returns_its_claims() -> None:
    claims = HS.verify(f"Bearer {make_token(sub='ops')}", require_scope=True)
    assert claims["sub"] == "ops"
    assert claims["aud"] == JWT_AUDIENCE
    # The scheme is case-insensitive (RFC 6750 follows RFC 7235).
    assert HS.verify(f"bearer {make_token()}", require_scope=True)["iss"] == JWT_ISSUER


@pytest.mark.parametrize(
    ("claims", "ok"),
    [
        ({"scope": "vigil:run"}, True),
        ({"scope": "read vigil:run write"}, True),
        ({"scope": None, "scp": ["vigil:run"]}, True),
        ({"scope": None, "scopes": ["other", "vigil:run"]}, True),
        ({"scope": None}, False),
        ({"scope": "vigil:runner"}, False),
        ({"scope": "vigil"}, False),
        ({"scope": "read write"}, False),
    ],
)
def test_scope(claims: dict[str, Any], ok: bool) -> None:
    header = f"Bearer {make_token(**claims)}"
    if ok:
        HS.verify(header, require_scope=True)
        return
    with pytest.raises(AuthError) as caught:
        HS.verify(header, require_scope=True)
    assert (caught.value.status, caught.value.error) == (403, "insufficient_scope")
    HS.verify(header, require_scope=False)  # still a valid token: enough for details


def test_no_auth_configured_refuses() -> None:
    with pytest.raises(AuthError) as caught:
        Verifier(None).verify(f"Bearer {make_token()}", require_scope=True)
    assert caught.value.status == 403


def test_leeway_accepts_a_just_expired_token() -> None:
    lenient = Verifier(AuthConfig(**{**AUTH, "leeway": "30s"}))
    lenient.verify(f"Bearer {make_token(expires_in=-5)}", require_scope=True)
    with pytest.raises(AuthError):
        lenient.verify(f"Bearer {make_token(expires_in=-60)}", require_scope=True)


def test_rs256(rsa_keys: tuple[str, str]) -> None:
    private, public = rsa_keys
    verifier = Verifier(AuthConfig(algorithms=["RS256"], key=public, audience=JWT_AUDIENCE, issuer=JWT_ISSUER))
    good = make_token(secret=private, algorithm="RS256")
    assert verifier.verify(f"Bearer {good}", require_scope=True)["sub"] == "operator"
    other_private, _ = rsa_pair()
    for token, detail in (
        (make_token(secret=other_private, algorithm="RS256"), "signature verification failed"),
        # Key confusion: an HMAC token keyed with the (public) PEM must not pass as RS256.
        (hmac_with(public), "token algorithm not allowed"),
        (
            jwt.encode(
                {"aud": JWT_AUDIENCE, "iss": JWT_ISSUER, "exp": int(time.time()) + 60, "scope": "vigil:run"},
                JWT_SECRET,
                algorithm="HS256",
            ),
            "token algorithm not allowed",
        ),
        (unsigned(), "token algorithm not allowed"),
        (make_token(secret=private, algorithm="RS256", audience=None), "invalid or missing audience"),
    ):
        with pytest.raises(AuthError) as caught:
            verifier.verify(f"Bearer {token}", require_scope=True)
        assert (caught.value.status, caught.value.detail) == (401, detail)


# -- over real HTTP ---------------------------------------------------------------------------------


def run_settings(http_target: Any, auth: dict[str, Any] | None) -> Any:
    return make_settings(
        defaults={"interval": "30s", "timeout": "1s", "initial_delay": "30s", "jitter": 0},
        server={"run_cooldown": 0},
        auth=auth,
        components={"api": http(http_target.url, ok={"kind": "reachable", "path": "/ok"})},
    )


async def test_every_rejection_is_401_over_http_and_runs_nothing(http_target: Any) -> None:
    async with serve(run_settings(http_target, AUTH)) as served:
        for name, header, detail in REJECTED:
            before = http_target.hits.get("/ok", 0)
            headers = {} if header is None else {"Authorization": header}
            for path in ("/checks/run", "/checks/api/run", "/checks/api/ok/run", "/checks/nope/run"):
                status, body, response_headers = await served.post(path, headers=headers)
                assert status == 401, (name, path, body)
                assert json.loads(body) == {
                    "error": response_headers["WWW-Authenticate"].split('"')[1],
                    "detail": detail,
                }, name
                assert response_headers["WWW-Authenticate"].startswith("Bearer error=")
            assert http_target.hits.get("/ok", 0) == before, name
            assert served.store.states[("api", "ok")].last is None


async def test_token_without_scope_is_403_over_http(http_target: Any) -> None:
    async with serve(run_settings(http_target, AUTH)) as served:
        status, body, headers = await served.post(
            "/checks/run", headers={"Authorization": f"Bearer {make_token(scope='read')}"}
        )
        assert status == 403
        assert json.loads(body) == {"error": "insufficient_scope", "detail": "token lacks the 'vigil:run' scope"}
        assert "WWW-Authenticate" not in headers
        assert served.store.states[("api", "ok")].last is None


async def test_run_endpoints_are_refused_without_auth_config(http_target: Any) -> None:
    async with serve(run_settings(http_target, None)) as served:
        for path in ("/checks/run", "/checks/api/run", "/checks/api/ok/run"):
            for headers in ({}, {"Authorization": f"Bearer {make_token()}"}, {"Authorization": f"Bearer {unsigned()}"}):
                status, body, _ = await served.post(path, headers=headers)
                assert status == 403, (path, headers)
                assert json.loads(body)["error"] == "access_denied"
        assert served.store.states[("api", "ok")].last is None


async def test_rs256_over_http(http_target: Any, rsa_keys: tuple[str, str]) -> None:
    private, public = rsa_keys
    auth = {"algorithms": ["RS256"], "key": public, "audience": JWT_AUDIENCE, "issuer": JWT_ISSUER}
    async with serve(run_settings(http_target, auth)) as served:
        token = make_token(secret=private, algorithm="RS256")
        status, body, _ = await served.post("/checks/api/ok/run", headers={"Authorization": f"Bearer {token}"})
        assert status == 200, body
        assert json.loads(body)["runs"]["api:ok"]["status"] == "pass"
        status, _, _ = await served.post("/checks/run", headers={"Authorization": f"Bearer {make_token()}"})
        assert status == 401


# -- keys are checked at startup (found by attacking Vigil) ---------------------------------------------


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "key: must not be empty"),
        ("short-key", "key: an HMAC key must be at least 32 bytes (RFC 7518), this one has 9"),
    ],
)
def test_empty_or_short_hmac_keys_are_refused(key: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        AuthConfig(algorithms=["HS256"], key=key, audience=JWT_AUDIENCE, issuer=JWT_ISSUER)


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_a_key_that_is_not_pem_is_refused_at_startup(alg: str) -> None:
    with pytest.raises(ValueError, match=f"key: not a PEM public key usable with {alg}") as caught:
        AuthConfig(algorithms=[alg], key="not-a-pem-key-" * 4, audience=JWT_AUDIENCE, issuer=JWT_ISSUER)
    assert "not-a-pem-key" not in str(caught.value).split("key: not a PEM")[1]


def test_a_deeply_nested_payload_is_a_401() -> None:
    verifier = Verifier(AuthConfig(algorithms=["HS256"], key=JWT_SECRET, audience=JWT_AUDIENCE, issuer=JWT_ISSUER))
    header = b64({"alg": "HS256", "typ": "JWT"})
    payload = base64.urlsafe_b64encode(("[" * 100_000 + "]" * 100_000).encode()).rstrip(b"=").decode()
    signing_input = f"{header}.{payload}"
    digest = hmac.new(JWT_SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}"
    for candidate in (token, f"{b64({'alg': 'HS256'})[:-2]}{payload}.{payload}.x"):
        with pytest.raises(AuthError) as caught:
            verifier.verify(f"Bearer {candidate}", require_scope=True)
        assert caught.value.status == 401
