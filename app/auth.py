"""Bearer JWT verification with python-jose; the only module that knows about tokens.

python-jose enforces the algorithm list only when given one and skips the audience check when the token has
no `aud` unless told to require it, so both are always passed, with `exp`, `aud` and `iss` required.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jose import JWTError, jwt
from jose.exceptions import ExpiredSignatureError, JWTClaimsError

from app.config import AuthConfig


@dataclass(frozen=True, slots=True)
class AuthError(Exception):
    status: int  # 401 or 403
    error: str  # RFC 6750 error code
    detail: str

    def www_authenticate(self) -> str:
        return f'Bearer error="{self.error}", error_description="{self.detail}"'


def _scopes(claims: dict[str, Any]) -> set[str]:
    scopes: set[str] = set()
    for name in ("scope", "scp", "scopes"):
        value = claims.get(name)
        if isinstance(value, str):
            scopes.update(value.split())
        elif isinstance(value, list):
            scopes.update(str(v) for v in value)
    return scopes


class Verifier:
    def __init__(self, config: AuthConfig | None) -> None:
        self.config = config

    @property
    def enabled(self) -> bool:
        return self.config is not None

    def verify(self, authorization: str | None, *, require_scope: bool) -> dict[str, Any]:
        """Claims of a valid token; AuthError otherwise. Error details never echo the token."""
        config = self.config
        if config is None:
            raise AuthError(403, "access_denied", "run endpoints are disabled: no auth is configured")
        if not authorization:
            raise AuthError(401, "invalid_request", "missing bearer token")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthError(401, "invalid_request", "authorization header must be 'Bearer <token>'")
        try:
            header = jwt.get_unverified_header(token)
        except JWTError:
            raise AuthError(401, "invalid_token", "malformed token") from None
        if header.get("alg") not in config.algorithms:
            raise AuthError(401, "invalid_token", "token algorithm not allowed")
        try:
            claims = jwt.decode(
                token,
                config.key.get_secret_value(),
                algorithms=config.algorithms,
                audience=config.audience,
                issuer=config.issuer,
                options={
                    "require_exp": True,
                    "require_aud": True,
                    "require_iss": True,
                    "verify_aud": True,
                    "verify_iss": True,
                    "verify_exp": True,
                    "leeway": int(config.leeway),
                },
            )
        except ExpiredSignatureError:
            raise AuthError(401, "invalid_token", "token expired") from None
        except JWTClaimsError as exc:
            raise AuthError(401, "invalid_token", _claims_reason(str(exc))) from None
        except JWTError:
            raise AuthError(401, "invalid_token", "signature verification failed") from None
        if require_scope and config.scope not in _scopes(claims):
            raise AuthError(403, "insufficient_scope", f"token lacks the {config.scope!r} scope")
        return claims


def _claims_reason(message: str) -> str:
    lowered = message.lower()
    if "audience" in lowered or "aud" in lowered:
        return "invalid or missing audience"
    if "issuer" in lowered or "iss" in lowered:
        return "invalid or missing issuer"
    if "exp" in lowered:
        return "missing or invalid expiry"
    return "invalid claims"
