"""The `tcp` component type: a dependency spoken to over plain TCP (optionally TLS) that Vigil has no client for.

`connect` (lookup, connect, handshake with `tls: true`) and `tls` (the certificate chain and protocol) each open
their own connection on the component's resolver pool, and close it at once.
"""

from __future__ import annotations

from app.checks.base import CheckKind, ComponentType
from app.checks.tcp import connect, tls
from app.checks.tcp.component import close_client, open_client
from app.checks.tcp.config import TcpComponent, TcpConnect, TcpTls
from app.checks.tcp.errors import describe_error

TCP = ComponentType(
    config=TcpComponent,
    kinds=(CheckKind(TcpConnect, connect.run), CheckKind(TcpTls, tls.run)),
    open_client=open_client,
    close_client=close_client,
    describe_error=describe_error,
)

__all__ = ["TCP"]
