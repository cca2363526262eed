"""The `connect` check: the name resolved, a TCP connection within the connect timeout, and with `tls: true` the
handshake a client would do (chain verified for the name); then the connection is closed, nothing sent."""

from __future__ import annotations

from app import units
from app.checks import judging
from app.checks.base import CheckContext
from app.checks.tcp.component import TcpClient
from app.checks.tcp.config import TcpComponent, TcpConnect
from app.clients import tcp
from app.model import Observation, Outcome, Status


async def run(ctx: CheckContext[TcpComponent, TcpConnect, TcpClient, object]) -> Outcome:
    component = ctx.component
    endpoint = tcp.Endpoint(component.host, component.port)
    probe = await tcp.probe(
        ctx.client.resolver,
        endpoint,
        connect_timeout=component.connect_timeout,
        context=ctx.client.tls.verified() if component.tls else None,
        server_name=component.name_verified,
        handshake_timeout=component.handshake_timeout,
        deadline=ctx.deadline,
    )
    via = "" if probe.address == component.host else f" ({probe.address})"
    output = f"connected to {endpoint.where}{via} in {units.latency(probe.connect_latency)}"
    observed = [Observation("connect_latency", round(probe.connect_latency, 6), "s")]
    took = probe.connect_latency
    if probe.handshake is not None:
        output += f"; {probe.handshake.version} handshake in {units.latency(probe.handshake.latency)}"
        observed.append(Observation("handshake_latency", round(probe.handshake.latency, 6), "s"))
        observed.append(Observation("tls_version", probe.handshake.version))
        took += probe.handshake.latency
    what = "connecting" if probe.handshake is None else "connecting and the handshake"
    if (slow := judging.latency(what, took, ctx.options.latency_warn)) is not None:
        return Outcome(slow[0], f"{output}; {slow[1]}", tuple(observed))
    return Outcome(Status.PASS, output, tuple(observed))
