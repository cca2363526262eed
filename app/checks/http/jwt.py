"""The `jwt` check: the authentication flow as a client lives it, and the bad tokens an attacker would try.

A token from the token endpoint (or minted) must open the protected route; no token, an expired one, one
signed with another key, a tampered one, `alg: none` and one for another audience must be refused (401/403).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field, replace

import aiohttp

from app.checks.http import jwt_rules, tokens
from app.checks.http.calls import HttpContext, Reply, api_headers, request, target
from app.checks.http.config import JWT_ALGORITHMS, HttpJwt
from app.checks.http.credentials import TokenUnavailable, for_jwt_check
from app.checks.http.errors import CheckError, NoAnswer, TokenMask, reason
from app.checks.http.jwt_rules import Case
from app.checks.judging import Finding
from app.model import Observation, Outcome, Status


@dataclass(slots=True)
class JwtMemo:
    other_keys: dict[str, str] = field(default_factory=dict)  # algorithm -> a key the target never saw


async def run(ctx: HttpContext[HttpJwt, JwtMemo]) -> Outcome:
    mask = TokenMask()
    return await mask.guard(_run(ctx, mask))


async def _run(ctx: HttpContext[HttpJwt, JwtMemo], mask: TokenMask) -> Outcome:
    options: HttpJwt = ctx.options
    try:
        issued = await for_jwt_check(ctx, options)
    except TokenUnavailable as exc:
        return Outcome(Status.FAIL, str(exc))
    mask.add(issued.token)
    observed: list[Observation] = []
    if issued.latency is not None:
        observed.append(Observation("token_latency", round(issued.latency, 6), "s"))
    parsed = tokens.parse(issued.token)
    lifetime_problem, lifetime = jwt_rules.judge_lifetime(
        issued.source, parsed.claims.get("exp"), time.time(), ctx.schedule.interval
    )
    if lifetime is not None:
        observed.append(Observation("token_lifetime", round(lifetime, 3), "s"))
    findings: list[Finding] = [lifetime_problem] if lifetime_problem else []

    route = f"{options.protected.method} {options.protected.path}"
    valid = await _call(ctx, issued.token, f"{route} with the valid token")
    observed.append(Observation("protected_latency", round(valid.latency, 6), "s"))
    observed.append(Observation("status_code", valid.status))
    if problem := jwt_rules.judge_valid(route, valid.status, valid.latency):
        return Outcome.from_findings([*findings, problem], observed)

    forged, not_tried = await _forge(ctx, parsed)
    refused: list[Case] = []
    for case, token in forged:
        mask.add(token)
        reply = await _call(ctx, token, f"{route} with {case.words}")
        problem = jwt_rules.judge_case(route, case, reply.status, options.protected.refuse_status)
        if problem is None:
            refused.append(case)
        else:
            findings.append(problem)
    observed.append(Observation("bad_tokens_refused", len(refused)))
    outcome = Outcome.from_findings(
        findings, observed, ok=jwt_rules.summary(route, valid.status, valid.latency, refused)
    )
    if note := jwt_rules.not_tried_note(not_tried):
        outcome = replace(outcome, output=f"{outcome.output}; {note}")
    return outcome


async def _forge(
    ctx: HttpContext[HttpJwt, JwtMemo], parsed: tokens.Parsed
) -> tuple[list[tuple[Case, str | None]], list[str]]:
    """The bad tokens that can be made from the valid one (and the key, when configured), and what could not."""
    options: HttpJwt = ctx.options
    algorithm = str(parsed.header.get("alg", ""))
    forged: list[tuple[Case, str | None]] = [(jwt_rules.NO_TOKEN, None)]
    not_tried: list[str] = []
    key = options.signing_key.get_secret_value() if options.signing_key is not None else None
    if key is not None:
        forged.append((jwt_rules.EXPIRED, tokens.expired(parsed, key, options.algorithm, time.time())))
    if algorithm in JWT_ALGORITHMS:
        memo: JwtMemo = ctx.memo
        if algorithm not in memo.other_keys:  # an RSA key takes a while: made once, off the event loop
            memo.other_keys[algorithm] = await asyncio.to_thread(tokens.other_key, algorithm)
        forged.append((jwt_rules.OTHER_KEY, tokens.signed_with_other_key(parsed, memo.other_keys[algorithm])))
    else:
        not_tried.append(f"another key (Vigil cannot sign with the token's algorithm {algorithm!r})")
    forged.append((jwt_rules.TAMPERED, tokens.tampered(parsed)))
    forged.append((jwt_rules.ALG_NONE, tokens.unsigned(parsed)))
    if key is not None:
        forged.append((jwt_rules.OTHER_AUDIENCE, tokens.for_other_audience(parsed, key, options.algorithm)))
    else:
        needs_key = [case.name for case in jwt_rules.CASES if case.needs_key]
        not_tried.append(f"{', '.join(needs_key)} (they need signing_key)")
    return forged, not_tried


async def _call(ctx: HttpContext[HttpJwt, JwtMemo], token: str | None, what: str) -> Reply:
    options: HttpJwt = ctx.options
    headers = api_headers(ctx.component)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    url = target(ctx.component, options.protected.path)
    try:
        return await request(ctx, options.protected.method, url, headers=headers, limit=options.request_timeout)
    except (aiohttp.ClientError, NoAnswer) as exc:
        raise CheckError(f"{what}: {reason(exc)}") from None
