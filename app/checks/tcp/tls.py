"""The `tls` check (this type's, and the http type's through `inspect`): the chain verifies for the name, its
earliest expiry against the thresholds, the negotiated protocol at least the minimum. Judged by tls_rules.

A chain that does not verify is read again without verification, only to name the certificate at fault.
"""

from __future__ import annotations

import asyncio
import ssl
import time

from app.checks.base import CheckContext
from app.checks.judging import Finding
from app.checks.tcp import tls_rules
from app.checks.tcp.component import TcpClient
from app.checks.tcp.config import TcpComponent, TcpTls, TlsOptions
from app.clients import tcp
from app.clients.resolver import SharedResolver
from app.model import Limit, Observation, Outcome, Status
from app.units import span


async def run(ctx: CheckContext[TcpComponent, TcpTls, TcpClient, object]) -> Outcome:
    component = ctx.component
    return await inspect(
        ctx.client.resolver,
        ctx.client.tls,
        tcp.Endpoint(component.host, component.port),
        component.name_verified,
        ctx.options,
        connect_timeout=component.connect_timeout,
        handshake_timeout=component.handshake_timeout,
        deadline=ctx.deadline,
    )


async def inspect(
    resolver: SharedResolver,
    contexts: tcp.TlsContexts,
    endpoint: tcp.Endpoint,
    name: str,
    options: TlsOptions,
    *,
    connect_timeout: float,
    handshake_timeout: float,
    deadline: float,
) -> Outcome:
    """One verified handshake with `endpoint` for `name`, judged. Vigil offers TLS 1.2 and newer (older ones too when
    the minimum is older) and judges what was negotiated, so a server below a TLS 1.3 minimum is named by version."""
    floor = min(tcp.PROTOCOLS[options.min_protocol], ssl.TLSVersion.TLSv1_2)
    try:
        probe = await tcp.probe(
            resolver,
            endpoint,
            connect_timeout=connect_timeout,
            context=contexts.verified(floor),
            server_name=name,
            handshake_timeout=handshake_timeout,
            deadline=deadline,
        )
    except tcp.CertificateRejected as exc:
        left = max(0.001, deadline - asyncio.get_running_loop().time())
        served = await tcp.read_chain(
            resolver, endpoint, contexts, name, min(connect_timeout + handshake_timeout, left)
        )
        chain = tls_rules.parse(served or ())
        observed = _expiry(chain, time.time(), options)
        return Outcome(Status.FAIL, tls_rules.rejection(exc.code, exc.reason, chain, name, time.time()), observed)
    except tcp.HandshakeFailed as exc:
        if exc.protocol_refused:
            offered = floor.name.replace("_", ".")
            return Outcome(
                Status.FAIL,
                f"{endpoint.where} speaks no TLS version from {offered} up (handshake refused: {exc.reason})",
            )
        raise
    handshake = probe.handshake
    assert handshake is not None  # a context was given
    chain = tls_rules.parse(handshake.chain)
    now = time.time()
    observed = (
        *_expiry(chain, now, options),
        Observation("handshake_latency", round(handshake.latency, 6), "s"),
        Observation("tls_version", handshake.version),
        Observation("chain_length", len(handshake.chain)),
    )
    findings: list[Finding] = []
    if (problem := tls_rules.judge_protocol(handshake.version, options.min_protocol)) is not None:
        findings.append((Status.FAIL, problem))
    first = tls_rules.first_to_expire(chain)
    if first is None:
        return Outcome(Status.FAIL, f"{endpoint.where} served no certificate Vigil could read", observed)
    status, expiry = tls_rules.judge_expiry(first, now, options.warn_before, options.fail_before)
    if status is not Status.PASS:
        findings.append((status, expiry))
    ok = f"{handshake.version}, chain valid for {name}; {expiry}"
    return Outcome.from_findings(findings, list(observed), ok=ok)


def _expiry(chain: list[tls_rules.Certificate], now: float, options: TlsOptions) -> tuple[Observation, ...]:
    """Seconds until the earliest expiry (negative once expired), declared against the fail threshold."""
    first = tls_rules.first_to_expire(chain)
    if first is None:
        return ()
    limit = Limit(options.fail_before, f"the {span(options.fail_before)} fail threshold", falling=True)
    return (Observation("cert_expiry", round(first.not_after - now, 3), "s", limit),)
