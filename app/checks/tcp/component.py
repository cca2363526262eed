"""The `tcp` component's client: its own resolver pool and TLS contexts; each check run opens its own connection."""

from __future__ import annotations

from app.checks.tcp.config import TcpComponent
from app.clients.resolver import SharedResolver
from app.clients.tcp import TlsContexts


class TcpClient:
    def __init__(self, component: TcpComponent) -> None:
        # Lookups on a small pool of this client's own, shared per name: a hung resolver stalls nothing else.
        self.resolver = SharedResolver()
        self.tls = TlsContexts(component.tls_ca_file)

    async def close(self) -> None:
        await self.resolver.close()


def open_client(component: TcpComponent) -> TcpClient:
    return TcpClient(component)


async def close_client(client: TcpClient) -> None:
    await client.close()
