"""The `websocket` check: the upgrade with the frontend's origin and token, one round trip, anonymous refused.

Everything goes through the component's aiohttp session (`ws_connect`); each step has its own bound within
the run's deadline, and every connection is closed, whatever happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import aiohttp

from app import units
from app.checks.http import websocket_rules
from app.checks.http.calls import MAX_BODY, HttpContext, api_headers, bounded, target
from app.checks.http.config import SENSITIVE_HEADER, HttpJwt, HttpWebSocket
from app.checks.http.credentials import TokenCache, TokenUnavailable, for_websocket
from app.checks.http.errors import NoAnswer, TokenMask, reason
from app.checks.http.websocket_rules import Anonymous, Exchange
from app.checks.judging import Finding
from app.clients.http_errors import UpgradeRedirected
from app.model import Observation, Outcome, Status

WebSocket = aiohttp.ClientWebSocketResponse
_CLOSE_WAIT = 1.0  # seconds at most for the server's half of the closing handshake


async def run(ctx: HttpContext[HttpWebSocket, TokenCache]) -> Outcome:
    mask = TokenMask()
    return await mask.guard(_run(ctx, mask))


async def _run(ctx: HttpContext[HttpWebSocket, TokenCache], mask: TokenMask) -> Outcome:
    options: HttpWebSocket = ctx.options
    token: str | None = None
    with_token = ""
    if options.auth is not None:
        jwt_check = ctx.component.checks[options.auth.check]
        assert isinstance(jwt_check, HttpJwt)  # the config refuses anything else
        cache: TokenCache = ctx.memo
        try:
            issued = await for_websocket(ctx, jwt_check, cache)
        except TokenUnavailable as exc:
            return Outcome(Status.FAIL, f"no token for the upgrade (check {options.auth.check}'s): {exc}")
        token = mask.add(issued.token)
        with_token = f" with a token {issued.source}"
    path = options.path
    started = time.perf_counter()
    try:
        ws = await _connect(ctx, token, anonymous=False)
    except (aiohttp.ClientError, NoAnswer) as exc:
        return Outcome(Status.FAIL, f"the upgrade of {path}{with_token} failed: {reason(exc)}")
    handshake = time.perf_counter() - started
    observed = [Observation("handshake_latency", round(handshake, 6), "s")]
    try:
        reply_bound = bounded(ctx, options.reply_timeout)
        exchange = await _exchange(ws, options, reply_bound)
    finally:
        await _close(ws, bounded(ctx, _CLOSE_WAIT))
    findings: list[Finding] = []
    problem = websocket_rules.judge_reply(
        path, options.send, exchange, reply_bound, options.expect, options.json_fields
    )
    if problem is not None:
        findings.append(problem)
    else:
        observed.append(Observation("round_trip_latency", round(exchange.latency, 6), "s"))
    ok = f"upgrade of {path} in {units.latency(handshake)}, reply in {units.latency(exchange.latency)}"
    if options.auth is not None and options.auth.refuse_anonymous:
        anonymous = await _anonymous(ctx)
        if (problem := websocket_rules.judge_anonymous(path, anonymous)) is not None:
            findings.append(problem)
        ok += f"; without a token refused ({websocket_rules.refusal(anonymous)})"
    return Outcome.from_findings(findings, observed, ok=ok)


async def _connect(ctx: HttpContext[HttpWebSocket, TokenCache], token: str | None, *, anonymous: bool) -> WebSocket:
    """The upgrade, bounded by the handshake timeout; the token where `auth` puts it (none when anonymous)."""
    options: HttpWebSocket = ctx.options
    auth = options.auth
    headers = api_headers(ctx.component, drop=[auth.header] if auth is not None and auth.header else [])
    if anonymous:
        headers = {name: value for name, value in headers.items() if not SENSITIVE_HEADER.search(name)}
    elif auth is None and ctx.component.bearer_token is not None:
        headers["Authorization"] = f"Bearer {ctx.component.bearer_token.get_secret_value()}"
    params: dict[str, str] = {}
    protocols: tuple[str, ...] = ()
    if token is not None and auth is not None:
        if auth.query is not None:
            params[auth.query] = token
        elif auth.header is not None:
            headers[auth.header] = f"Bearer {token}"
        elif auth.subprotocol is not None:
            protocols = (auth.subprotocol, token)
    seconds = bounded(ctx, options.handshake_timeout)
    try:
        async with asyncio.timeout(seconds):
            return await ctx.client.session.ws_connect(
                target(ctx.component, options.path),
                origin=options.origin,
                headers=headers,
                params=params or None,
                protocols=protocols,
                autoclose=False,
                autoping=False,
                heartbeat=None,
                timeout=ctx.client.ws_timeout(close=min(_CLOSE_WAIT, options.reply_timeout)),
                max_msg_size=MAX_BODY,
            )
    except TimeoutError:
        raise NoAnswer(seconds) from None


async def _exchange(ws: WebSocket, options: HttpWebSocket, seconds: float) -> Exchange:
    """Send the message (or a ping) and wait for the expected reply (or the pong), a close, or the bound."""
    started = time.perf_counter()
    try:
        if options.send is None:
            await ws.ping(b"vigil")
        else:
            await ws.send_str(options.send)
    except (aiohttp.ClientConnectionResetError, ConnectionResetError):
        pass  # the server closed first (a refusal right after the upgrade): its close frame is read below
    last: str | None = None
    try:
        async with asyncio.timeout(seconds):
            while True:
                message = await ws.receive()
                kind = message.type
                if kind is aiohttp.WSMsgType.PING:
                    await ws.pong(message.data)
                elif kind is aiohttp.WSMsgType.PONG:
                    if options.send is None:
                        return Exchange("reply", time.perf_counter() - started)
                elif kind in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    data = message.data
                    text = data if isinstance(data, str) else bytes(data).decode("utf-8", "replace")
                    if options.send is not None and websocket_rules.matches(text, options.expect, options.json_fields):
                        return Exchange("reply", time.perf_counter() - started)
                    last = text
                elif kind is aiohttp.WSMsgType.ERROR:
                    raise message.data
                else:  # CLOSE, CLOSING, CLOSED
                    code = message.data if kind is aiohttp.WSMsgType.CLOSE else ws.close_code
                    return Exchange("closed", time.perf_counter() - started, last, code)
    except TimeoutError:
        return Exchange("silent", seconds, last)


async def _anonymous(ctx: HttpContext[HttpWebSocket, TokenCache]) -> Anonymous:
    """The same upgrade without any credential, and what happens after it."""
    options: HttpWebSocket = ctx.options
    try:
        ws = await _connect(ctx, None, anonymous=True)
    except (aiohttp.WSServerHandshakeError, UpgradeRedirected) as exc:
        return Anonymous(exc.status)
    except NoAnswer as exc:
        return Anonymous(None, waited=exc.seconds)
    try:
        return Anonymous(101, await _exchange(ws, options, bounded(ctx, options.reply_timeout)))
    finally:
        await _close(ws, bounded(ctx, _CLOSE_WAIT))


async def _close(ws: WebSocket, seconds: float) -> None:
    """Close, waiting `seconds` at most for the server's side; aiohttp drops the connection when cut short."""
    with contextlib.suppress(TimeoutError, aiohttp.ClientError, OSError):
        async with asyncio.timeout(seconds):
            await ws.close()
