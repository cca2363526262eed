"""A TLS client context that verifies a configured name while the connection goes to a resolved address."""

from __future__ import annotations

import ssl


class NamedContext(ssl.SSLContext):
    """A TLS client context that checks the certificate against a given name, whatever address was connected to."""

    server_name = ""

    @classmethod
    def verifying(cls, server_name: str) -> NamedContext:
        context = cls(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain and the name
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
        context.server_name = server_name
        return context

    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        return super().wrap_bio(incoming, outgoing, server_side, self.server_name or server_hostname, session)
