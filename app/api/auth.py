"""Bearer JWT verification with python-jose; the only module that knows about tokens.

python-jose enforces the algorithm list only when given one and skips the audience check when the token has
no `aud` unless told to require it, so both are always passed, with `exp`, `aud` and `iss` required.
"""

from __future__ import annotations

import re
from typing import Any

from jose import JWTError, jwt  # type: ignore[import-untyped]
from jose.exceptions import ExpiredSignatureError, JWTClaimsError  # type: ignore[import-untyped]

from app.config.settings import AuthConfig


class AuthError(Exception):
    """A refused request: `status` 401 or 403, `error` an RFC 6750 code, `detail` safe to show (never the token).

    A plain exception, not a frozen dataclass: Starlette's exception handling assigns `__traceback__`.
    """

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail

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
        except (JWTError, RecursionError, ValueError, TypeError):
            raise AuthError(401, "invalid_token", "malformed token") from None
        if not isinstance(header, dict):
            raise AuthError(401, "invalid_token", "malformed token")
        if header.get("alg") not in config.algorithms:
            raise AuthError(401, "invalid_token", "token algorithm not allowed")
        if "crit" in header:  # RFC 7515 4.1.11: an extension the verifier does not understand must be refused
            raise AuthError(401, "invalid_token", "token names critical extensions Vigil does not support")
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
                    "leeway": config.leeway,
                },
            )
        except ExpiredSignatureError:
            raise AuthError(401, "invalid_token", "token expired") from None
        except JWTClaimsError as exc:
            raise AuthError(401, "invalid_token", _claims_reason(str(exc))) from None
        except JWTError as exc:
            # python-jose checks required claims after the signature, raising a bare JWTError for a missing one.
            missing = _MISSING_CLAIM.search(str(exc))
            if missing is not None:
                raise AuthError(401, "invalid_token", _REASONS.get(missing[1], "invalid claims")) from None
            raise AuthError(401, "invalid_token", "signature verification failed") from None
        except (TypeError, ValueError, OverflowError):
            # python-jose 3.5 calls int() on exp/nbf/iat unguarded: `"exp": null` would otherwise be a 500.
            raise AuthError(401, "invalid_token", "invalid claims") from None
        except RecursionError:  # a payload nested thousands of levels deep: json.loads gives up
            raise AuthError(401, "invalid_token", "malformed token") from None
        if not isinstance(claims, dict):
            raise AuthError(401, "invalid_token", "malformed token")
        for name in _NUMERIC_DATES:  # RFC 7519 2: a number of seconds; python-jose accepts strings through int()
            value = claims.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise AuthError(401, "invalid_token", _REASONS.get(name, "invalid claims"))
        if require_scope and config.scope not in _scopes(claims):
            raise AuthError(403, "insufficient_scope", f"token lacks the {config.scope!r} scope")
        return dict(claims)


_NUMERIC_DATES = ("exp", "nbf", "iat")
_MISSING_CLAIM = re.compile(r'missing required key "(\w+)"')
_REASONS = {
    "aud": "invalid or missing audience",
    "iss": "invalid or missing issuer",
    "exp": "missing or invalid expiry",
}


def _claims_reason(message: str) -> str:
    """A JWTClaimsError message from python-jose, as one of a few fixed reasons (never the claim's value)."""
    lowered = message.lower()
    if "audience" in lowered:
        return _REASONS["aud"]
    if "issuer" in lowered:
        return _REASONS["iss"]
    if "expir" in lowered or "(exp)" in lowered:
        return _REASONS["exp"]
    return "invalid claims"
