"""The "show details" rule, once: whether a caller sees the checks' outputs, and what readers say when not."""

from __future__ import annotations

from dataclasses import dataclass

from app.api.auth import AuthError, Verifier
from app.config.settings import Settings, ShowDetails


@dataclass(frozen=True, slots=True)
class Details:
    """Whether a caller sees the checks' outputs (the reasons), and if not, why and how to see them.

    One rule (`server.show_details`, Spring Boot Actuator's) for every reader: /health, /status.json and the page,
    /readyz?verbose (which then lists each check with "reason withheld", the kube-apiserver convention)."""

    shown: bool
    note: str | None = None  # when hidden: the sentence a reader shows in their place


SHOWN = Details(True)


def details_for(settings: Settings, verifier: Verifier, authorization: str | None) -> Details:
    mode = settings.server.show_details
    if mode is ShowDetails.ALWAYS:
        return Details(True)
    if mode is ShowDetails.NEVER:
        return Details(
            False,
            "Check outputs are not shown (server.show_details: never); set server.show_details to "
            "when_authorized (with auth) or always to show them.",
        )
    if not verifier.enabled:
        return Details(False, details_warning(settings))
    if authorization is not None:
        try:
            verifier.verify(authorization, require_scope=False)
        except AuthError:
            pass
        else:
            return Details(True)
    return Details(
        False,
        "Check outputs are hidden until a valid bearer token is sent (server.show_details: when_authorized): "
        "set one in the token field, or send an Authorization header.",
    )


def details_warning(settings: Settings) -> str | None:
    """The startup warning for a rule that can never show details: when_authorized with no auth configured."""
    if settings.server.show_details is ShowDetails.WHEN_AUTHORIZED and settings.auth is None:
        return (
            "Check outputs are hidden from everyone: server.show_details is when_authorized but no auth is "
            "configured, so no caller can be authorized; configure auth, or set server.show_details: always."
        )
    return None
