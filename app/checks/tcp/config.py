"""The `tcp` component's configuration, and the options every `tls` kind shares (this one's and the http type's).

Validated once, at load; nothing here talks to the network.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, ClassVar, Literal, Self

from pydantic import Field, field_validator, model_validator

from app.config.fields import Area, CaFile, CheckConfig, ComponentConfig, Duration, Severity
from app.units import span

DAY = 86400.0
Protocol = Literal["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]


class TlsOptions(CheckConfig):
    """What a `tls` check judges: the chain verifies for the name, its earliest expiry, the negotiated protocol.

    Degraded by default: an expiring certificate is a warning to act on, not a reason to pull traffic (a chain that
    no longer verifies fails the component's connectivity checks, which gate readiness, anyway).
    """

    default_severity: ClassVar[Severity] = Severity.DEGRADED
    default_area: ClassVar[Area | None] = Area.SECURITY
    warn_before: Duration = Field(default=21 * DAY, gt=0.0)  # warn when the earliest expiry is closer than this
    fail_before: Duration = Field(default=7 * DAY, ge=0.0)  # fail when closer than this
    min_protocol: Protocol = "TLSv1.2"  # the oldest protocol Vigil offers; a server without it or newer fails

    @model_validator(mode="after")
    def _fail_before_warn(self) -> Self:
        if self.fail_before > self.warn_before:
            raise ValueError(
                f"fail_before: {span(self.fail_before)} is longer than warn_before ({span(self.warn_before)})"
            )
        return self


class TcpConnect(CheckConfig):
    """A TCP connection within the connect timeout (and the TLS handshake when the component says `tls: true`)."""

    default_area: ClassVar[Area | None] = Area.COMMUNICATION
    kind: Literal["connect"] = "connect"
    latency_warn: Duration | None = None  # warn when connecting (and the handshake) took longer


class TcpTls(TlsOptions):
    kind: Literal["tls"] = "tls"


AnyTcpCheck = TcpConnect | TcpTls
TcpCheck = Annotated[AnyTcpCheck, Field(discriminator="kind")]


def _default_checks() -> dict[str, AnyTcpCheck]:
    return {"connect": TcpConnect()}


class TcpComponent(ComponentConfig):
    """A dependency spoken to over plain TCP (a database proxy, a message broker, SMTP), optionally over TLS."""

    timeout_chain: ClassVar[tuple[tuple[str, str | None, float], ...]] = (
        ("connect_timeout", None, 0.4),
        ("handshake_timeout", None, 0.4),
    )

    type: Literal["tcp"]
    host: str = Field(min_length=1)  # a name or an address
    port: int = Field(ge=1, le=65535)
    tls: bool = False  # the port speaks TLS: `connect` shakes hands too, and `tls` checks may be configured
    tls_ca_file: CaFile = None  # CA bundle for a private CA (instead of the system's)
    server_name: str | None = None  # sent as SNI and verified against the certificate (default: host)
    connect_timeout: Duration = Field(default=1.0, gt=0.0)  # the name lookup and the TCP connect together
    handshake_timeout: Duration = Field(default=2.0, gt=0.0)  # the TLS handshake
    checks: dict[str, TcpCheck] = Field(default_factory=_default_checks)

    @field_validator("host")
    @classmethod
    def _bare_host(cls, host: str) -> str:
        host = host.strip().strip("[]")
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if any(char in host for char in ":/@ "):
                raise ValueError(f"{host!r}: write the name or address alone; the port goes in `port`") from None
        return host

    @model_validator(mode="after")
    def _tls_checks_need_tls(self) -> Self:
        for name, check in self.checks.items():
            if isinstance(check, TcpTls) and not self.tls:
                raise ValueError(f"checks.{name}: a tls check needs `tls: true` on the component (the port speaks TLS)")
        return self

    @property
    def name_verified(self) -> str:
        return self.server_name or self.host

    @property
    def socket_deadline(self) -> float:
        # One connect: the lookup and TCP connect, then the handshake, back to back.
        return self.connect_timeout + (self.handshake_timeout if self.tls else 0.0)
