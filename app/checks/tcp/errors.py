"""The `tcp` type's errors as sentences: app.clients.tcp words each phase's failure (DNS, refused, no answer,
TLS hello unanswered, certificate) once, for this type and for the http type's `tls` kind alike."""

from __future__ import annotations

from app.clients.tcp import TcpError


def describe_error(exc: BaseException) -> str | None:
    if isinstance(exc, TcpError):
        return str(exc)
    return None
