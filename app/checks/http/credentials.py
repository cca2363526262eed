"""Where a check's token comes from: the token endpoint (client credentials grant) or minted from the signing key.

A token endpoint that is down, slow or answers nonsense raises TokenUnavailable, worded on its own; the
token itself never appears in a message.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from app.checks.http import tokens
from app.checks.http.calls import MAX_BODY, HttpContext, MemoT, OptionsT, request, target
from app.checks.http.config import HttpJwt, TokenEndpoint
from app.checks.http.errors import NoAnswer, reason

_ERROR_CODE = re.compile(r"^[A-Za-z0-9_.:-]{1,40}$")  # an OAuth `error` code, safe to repeat in an output


class TokenUnavailable(Exception):
    """No token: the sentence says why (the token endpoint's failure, or what it answered)."""


@dataclass(frozen=True, slots=True)
class Issued:
    token: str
    latency: float | None  # the token endpoint's, None when minted
    source: str  # "issued by POST /auth/token" or "minted with signing_key (HS256)"


async def from_endpoint(ctx: HttpContext[OptionsT, MemoT], endpoint: TokenEndpoint) -> Issued:
    where = f"token endpoint POST {endpoint.url}"
    fields = {"grant_type": "client_credentials", "client_id": endpoint.client_id}
    if endpoint.client_secret is not None:
        fields["client_secret"] = endpoint.client_secret.get_secret_value()
    if endpoint.scope is not None:
        fields["scope"] = endpoint.scope
    if endpoint.audience is not None:
        fields["audience"] = endpoint.audience
    body: dict[str, Any] = {"data": fields} if endpoint.body == "form" else {"json": fields}
    try:
        # The component's headers stay with the API: the token endpoint may be another host (the identity provider).
        reply = await request(
            ctx,
            "POST",
            target(ctx.component, endpoint.url),
            limit=endpoint.timeout,
            headers={"Accept": "application/json"},
            read=MAX_BODY,
            **body,
        )
    except (aiohttp.ClientError, NoAnswer) as exc:
        raise TokenUnavailable(f"{where}: {reason(exc)}") from None
    try:
        answer = json.loads(reply.body)
    except ValueError:
        answer = None
    if not 200 <= reply.status < 300:
        error = answer.get("error") if isinstance(answer, dict) else None
        code = f" ({error})" if isinstance(error, str) and _ERROR_CODE.match(error) else ""
        raise TokenUnavailable(f"{where} answered HTTP {reply.status}{code}")
    if not isinstance(answer, dict):
        raise TokenUnavailable(f"{where}: the answer is not a JSON object")
    token = answer.get(endpoint.token_field)
    if not isinstance(token, str) or not token:
        raise TokenUnavailable(f"{where}: no {endpoint.token_field} in the answer")
    try:
        tokens.parse(token)
    except ValueError as exc:
        raise TokenUnavailable(f"{where}: {endpoint.token_field} is {exc}") from None
    return Issued(token, reply.latency, f"issued by POST {endpoint.url}")


def minted(options: HttpJwt, now: float) -> Issued:
    assert options.signing_key is not None  # the config requires a token endpoint or a key
    claims = tokens.claims_to_mint(
        options.claims, audience=options.audience, issuer=options.issuer, lifetime=options.lifetime, now=now
    )
    token = tokens.sign(claims, options.signing_key.get_secret_value(), options.algorithm)
    return Issued(token, None, f"minted with signing_key ({options.algorithm})")


async def for_jwt_check(ctx: HttpContext[OptionsT, MemoT], options: HttpJwt) -> Issued:
    """As a client gets it: from the token endpoint when there is one, else minted."""
    if options.token is not None:
        return await from_endpoint(ctx, options.token)
    return minted(options, time.time())


@dataclass(slots=True)
class TokenCache:
    """A WebSocket check's token from the endpoint, kept while it has a run's worth of life left."""

    token: str | None = None
    expires_at: float = 0.0


async def for_websocket(ctx: HttpContext[OptionsT, MemoT], options: HttpJwt, cache: TokenCache) -> Issued:
    """Minted when the jwt check has a key (with its audience, issuer and claims; a token endpoint outage is then
    the jwt check's failure alone), else from the endpoint, reused as clients do until it nears its expiry."""
    now = time.time()
    if options.signing_key is not None:
        return minted(options, now)
    assert options.token is not None  # the config requires a token endpoint or a key
    if cache.token is not None and cache.expires_at - now > ctx.schedule.interval + ctx.schedule.timeout:
        return Issued(cache.token, None, f"issued by POST {options.token.url}")
    issued = await from_endpoint(ctx, options.token)
    exp = tokens.parse(issued.token).claims.get("exp")
    cache.token, cache.expires_at = (issued.token, float(exp)) if isinstance(exp, int | float) else (None, 0.0)
    return issued
