"""Minting and forging tokens (app/checks/http/tokens.py) and judging the answers (jwt_rules.py), no server.

Each forged token is checked against python-jose with the right key: it must be bad for exactly its reason.
"""

from __future__ import annotations

import secrets
import time

import pytest
from jose import jwt  # type: ignore[import-untyped]
from jose.exceptions import ExpiredSignatureError, JWTClaimsError, JWTError  # type: ignore[import-untyped]

from app import units
from app.checks.http import jwt_rules, tokens
from app.model import Status

AUDIENCE, ISSUER = "demo-api", "https://issuer.test"


@pytest.fixture
def key() -> str:
    return secrets.token_urlsafe(32)  # minted per test


@pytest.fixture
def valid(key: str) -> tokens.Parsed:
    now = time.time()
    claims = tokens.claims_to_mint({"sub": "svc"}, audience=AUDIENCE, issuer=ISSUER, lifetime=300, now=now)
    return tokens.parse(tokens.sign(claims, key, "HS256", {"kid": "k1"}))


def decode(token: str, key: str) -> dict[str, object]:
    options = {"require_exp": True, "require_aud": True, "require_iss": True}
    return dict(jwt.decode(token, key, algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER, options=options))


def test_minted_token_is_valid_and_keeps_header_fields(valid: tokens.Parsed, key: str) -> None:
    token = ".".join(valid.segments)
    assert decode(token, key)["sub"] == "svc"
    assert valid.header == {"alg": "HS256", "typ": "JWT", "kid": "k1"}
    assert valid.claims["exp"] - valid.claims["iat"] == 300


def test_each_forged_token_is_bad_for_its_own_reason(valid: tokens.Parsed, key: str) -> None:
    with pytest.raises(ExpiredSignatureError):
        decode(tokens.expired(valid, key, "HS256", time.time()), key)
    with pytest.raises(JWTClaimsError, match="audience"):
        decode(tokens.for_other_audience(valid, key, "HS256"), key)
    with pytest.raises(JWTError, match="Signature verification failed"):
        decode(tokens.signed_with_other_key(valid, tokens.other_key("HS256")), key)
    tampered = tokens.tampered(valid)
    assert tampered.split(".")[0] == valid.segments[0] and tampered.split(".")[2] == valid.segments[2]
    assert tokens.parse(tampered).claims["sub"] == "svc-tampered"
    with pytest.raises(JWTError, match="Signature verification failed"):
        decode(tampered, key)
    unsigned = tokens.unsigned(valid)
    assert unsigned.endswith(".") and tokens.parse(unsigned).header == {"alg": "none", "typ": "JWT"}
    assert tokens.parse(unsigned).claims == valid.claims
    with pytest.raises(JWTError):
        decode(unsigned, key)
    # Everything but the one thing each case changes stays as it was.
    assert tokens.parse(tokens.expired(valid, key, "HS256", time.time())).header["kid"] == "k1"
    assert tokens.parse(tokens.for_other_audience(valid, key, "HS256")).claims["sub"] == "svc"


@pytest.mark.parametrize("algorithm", ["HS384", "ES256", "ES512", "RS256"])
def test_other_keys_sign_with_their_family(algorithm: str, valid: tokens.Parsed) -> None:
    parsed = tokens.Parsed({**valid.header, "alg": algorithm}, valid.claims, valid.segments)
    token = tokens.signed_with_other_key(parsed, tokens.other_key(algorithm))
    assert tokens.parse(token).header["alg"] == algorithm


def test_an_algorithm_vigil_cannot_sign_with_has_no_other_key() -> None:
    with pytest.raises(ValueError, match="PS256"):
        tokens.other_key("PS256")


def test_parse_refuses_what_is_not_a_jwt() -> None:
    for text in ("opaque-token", "a.b", "a.b.c", "e30.W10.x"):
        with pytest.raises(ValueError, match="not a JWT"):
            tokens.parse(text)


def test_judging_cases() -> None:
    route = "GET /api/me"
    assert jwt_rules.judge_case(route, jwt_rules.EXPIRED, 401, [401, 403]) is None
    assert jwt_rules.judge_case(route, jwt_rules.ALG_NONE, 200, [401, 403]) == (
        Status.FAIL,
        "security hole: GET /api/me accepted an unsigned token (alg: none) (HTTP 200)",
    )
    assert jwt_rules.judge_case(route, jwt_rules.NO_TOKEN, 500, [401, 403]) == (
        Status.WARN,
        "GET /api/me answered a request without a token with HTTP 500, expected 401 or 403",
    )
    assert jwt_rules.judge_valid(route, 204, 0.01) is None
    assert jwt_rules.judge_valid(route, 401, 0.0123) == (
        Status.FAIL,
        "GET /api/me refused the valid token: HTTP 401 in 12.3 ms",
    )


def test_judging_lifetime() -> None:
    now = 1_800_000_000.0
    assert jwt_rules.judge_lifetime("minted", now + 600, now, 15) == (None, 600.0)
    assert jwt_rules.judge_lifetime("minted", now + 10, now, 15) == (
        (Status.WARN, "the token minted expires in 10 s, sooner than the interval (15s)"),
        10.0,
    )
    assert jwt_rules.judge_lifetime("issued by POST /t", now - 5, now, 15) == (
        (Status.FAIL, f"the token issued by POST /t had expired at {units.timestamp(now - 5)} UTC"),
        -5.0,
    )
    assert jwt_rules.judge_lifetime("minted", None, now, 15)[0] == (
        Status.WARN,
        "the token minted has no expiry (exp): a stolen one works forever",
    )
