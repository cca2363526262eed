"""JWTs Vigil makes itself: minted from a configured key, and the forged ones a protected route must refuse.

Pure functions over python-jose and base64url, no network. Every token made here is a secret of its run.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwt  # type: ignore[import-untyped]

OTHER_AUDIENCE = "urn:vigil:another-audience"
EXPIRED_AGO = 3600.0  # an expired token's exp, seconds in the past: beyond any sane leeway
_CURVES: dict[str, ec.EllipticCurve] = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}


@dataclass(frozen=True, slots=True)
class Parsed:
    """A compact JWS, read without verifying it."""

    header: dict[str, Any]
    claims: dict[str, Any]
    segments: tuple[str, str, str]


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _b64encode(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def parse(token: str) -> Parsed:
    """Header and claims of a JWT; ValueError when it is not one (three base64url parts, two JSON objects)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a JWT (three dot-separated parts)")
    try:
        header, claims = json.loads(_b64decode(parts[0])), json.loads(_b64decode(parts[1]))
    except (ValueError, UnicodeDecodeError):
        raise ValueError("not a JWT (header and payload are not base64url JSON)") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise ValueError("not a JWT (header and payload are not JSON objects)")
    return Parsed(header, claims, (parts[0], parts[1], parts[2]))


def claims_to_mint(
    extra: dict[str, Any], *, audience: str | None, issuer: str | None, lifetime: float, now: float
) -> dict[str, Any]:
    claims = {**extra, "iat": int(now), "exp": int(now + lifetime), "jti": secrets.token_hex(8)}
    if audience is not None:
        claims["aud"] = audience
    if issuer is not None:
        claims["iss"] = issuer
    return claims


def sign(claims: dict[str, Any], key: str, algorithm: str, header: dict[str, Any] | None = None) -> str:
    """A JWS; `header` keeps fields such as `kid` (alg and typ are set here)."""
    extra = {k: v for k, v in (header or {}).items() if k not in ("alg", "typ")}
    return str(jwt.encode(claims, key, algorithm=algorithm, headers=extra or None))


def expired(token: Parsed, key: str, algorithm: str, now: float) -> str:
    """The same claims, signed with the right key, expired an hour ago."""
    claims = {**token.claims, "iat": int(now - 2 * EXPIRED_AGO), "exp": int(now - EXPIRED_AGO)}
    claims.pop("nbf", None)
    return sign(claims, key, algorithm, token.header)


def for_other_audience(token: Parsed, key: str, algorithm: str) -> str:
    """The same claims, signed with the right key, for an audience this API is not."""
    return sign({**token.claims, "aud": OTHER_AUDIENCE}, key, algorithm, token.header)


def signed_with_other_key(token: Parsed, other_key: str) -> str:
    """The same header and claims, signed by a key the target never saw, with the token's own algorithm."""
    return sign(token.claims, other_key, str(token.header.get("alg", "HS256")), token.header)


def tampered(token: Parsed) -> str:
    """A claim changed, the header and signature kept."""
    claims = dict(token.claims)
    if "sub" in claims:
        claims["sub"] = f"{claims['sub']}-tampered"
    else:
        claims["vigil_tampered"] = True
    return f"{token.segments[0]}.{_b64encode(claims)}.{token.segments[2]}"


def unsigned(token: Parsed) -> str:
    """`alg: none` with the same claims and an empty signature."""
    return f"{_b64encode({'alg': 'none', 'typ': 'JWT'})}.{token.segments[1]}."


def other_key(algorithm: str) -> str:
    """A fresh key of the algorithm's family (HMAC secret, RSA or EC private key in PEM). RSA takes some CPU."""
    if algorithm.startswith("HS"):
        return secrets.token_urlsafe(48)
    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    if algorithm in _CURVES:
        private = ec.generate_private_key(_CURVES[algorithm])
    elif algorithm.startswith("RS"):
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        raise ValueError(f"no other key for algorithm {algorithm!r}")
    return private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
