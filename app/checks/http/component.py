"""The `http` component's client life cycle: one aiohttp session per component, shared by its checks."""

from __future__ import annotations

from app.checks.http.config import HttpComponent
from app.clients.http import HttpClient, HttpSettings


def open_client(component: HttpComponent) -> HttpClient:
    return HttpClient(
        HttpSettings(
            verify_tls=component.verify_tls,
            max_connections=component.max_connections,
            tls_ca_file=component.tls_ca_file,
        )
    )


async def close_client(client: HttpClient) -> None:
    await client.close()
