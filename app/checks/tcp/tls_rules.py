"""How a served certificate chain and a negotiated protocol are judged, as pure functions (no network here).

Every sentence names the certificate it is about (subject and issuer), its date in UTC and the time left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from app import units
from app.checks.judging import Finding, threshold
from app.model import Status
from app.text import SHOWN, printable

PROTOCOL_ORDER = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")

# OpenSSL's X509_V_ERR_* codes (x509_vfy.h) a check words on its own.
NOT_YET_VALID = 9
EXPIRED = 10
UNTRUSTED = frozenset({2, 18, 19, 20, 21})  # unknown or self-signed issuer, incomplete chain
WRONG_NAME = frozenset({62, 64})  # host name or IP address mismatch


@dataclass(frozen=True, slots=True)
class Certificate:
    subject: str  # RFC 4514: CN=api.example,O=Example
    issuer: str
    not_before: float  # epoch seconds
    not_after: float
    names: tuple[str, ...]  # subjectAltName DNS names and addresses

    @property
    def described(self) -> str:
        if self.subject == self.issuer:
            return f"{self.subject} (self-signed)"
        return f"{self.subject}, issued by {self.issuer}"


def parse(chain: Sequence[bytes]) -> list[Certificate]:
    """DER certificates as served; one that does not parse is left out (it is described by what OpenSSL said)."""
    parsed: list[Certificate] = []
    for der in chain:
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            continue
        parsed.append(
            Certificate(
                subject=printable(cert.subject.rfc4514_string(), SHOWN) or "(empty subject)",
                issuer=printable(cert.issuer.rfc4514_string(), SHOWN) or "(empty issuer)",
                not_before=cert.not_valid_before_utc.timestamp(),
                not_after=cert.not_valid_after_utc.timestamp(),
                names=_names(cert),
            )
        )
    return parsed


def _names(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    except (x509.ExtensionNotFound, ValueError):
        return ()
    assert isinstance(san, x509.SubjectAlternativeName)
    return tuple(
        printable(str(name), SHOWN)
        for name in (*san.get_values_for_type(x509.DNSName), *san.get_values_for_type(x509.IPAddress))
    )


def first_to_expire(chain: Sequence[Certificate]) -> Certificate | None:
    return min(chain, key=lambda cert: cert.not_after, default=None)


def when(epoch: float) -> str:
    return f"{units.timestamp(epoch)} UTC"


def judge_expiry(cert: Certificate, now: float, warn_before: float, fail_before: float) -> Finding:
    """The certificate that expires first against the two thresholds (time left at or below one has reached
    it); the sentence names the certificate either way."""
    left = cert.not_after - now
    if left <= 0:
        return Status.FAIL, f"certificate expired {units.age(-left)} ago, on {when(cert.not_after)}: {cert.described}"
    expires = f"certificate expires in {units.age(left)}, on {when(cert.not_after)}"
    found = threshold(left, expires, warn=warn_before, fail=fail_before, shown=units.span, falling=True)
    if found is not None:
        return found[0], f"{found[1]}: {cert.described}"
    return Status.PASS, f"first expiry {when(cert.not_after)} (in {units.age(left)}): {cert.described}"


def judge_protocol(version: str, minimum: str) -> str | None:
    """A problem when the negotiated protocol is older than the minimum (or one Vigil does not know)."""
    rank = PROTOCOL_ORDER.index(version) if version in PROTOCOL_ORDER else -1
    if rank < PROTOCOL_ORDER.index(minimum):
        return f"negotiated {version}, older than the minimum {minimum}"
    return None


def rejection(code: int, reason: str, chain: Sequence[Certificate], name: str, now: float) -> str:
    """Why a chain that did not verify was refused, naming the certificate at fault when the chain could be read."""
    leaf = chain[0] if chain else None
    if code == EXPIRED:
        expired = [cert for cert in chain if cert.not_after <= now]
        if expired:
            cert = min(expired, key=lambda c: c.not_after)
            return (
                f"certificate expired {units.age(now - cert.not_after)} ago, on {when(cert.not_after)}: "
                f"{cert.described}"
            )
        return "certificate has expired"
    if code == NOT_YET_VALID:
        early = [cert for cert in chain if cert.not_before > now]
        if early:
            cert = early[0]
            return f"certificate is not valid until {when(cert.not_before)}: {cert.described}"
        return "certificate is not yet valid"
    if code in WRONG_NAME:
        if leaf is None:
            return f"certificate is not valid for {name}"
        names = ", ".join(leaf.names) if leaf.names else "no subjectAltName"
        return f"certificate is not valid for {name} (it names {names}): {leaf.described}"
    if code in UNTRUSTED:
        about = f": {leaf.described}" if leaf else ""
        return f"certificate chain does not verify: {reason} (a private CA needs tls_ca_file){about}"
    return f"certificate rejected: {reason}" + (f": {leaf.described}" if leaf else "")
