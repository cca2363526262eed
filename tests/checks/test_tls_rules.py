"""The certificate and protocol rules (app/checks/tcp/tls_rules.py), without a server: chains built here."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from app.checks.tcp import tls_rules
from app.checks.tcp.tls_rules import Certificate
from app.model import Status
from devenv.certs import DAY, Authority

NOW = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC
WARN, FAIL = 21 * 86400.0, 7 * 86400.0


def cert(days_left: float, subject: str = "CN=api.example", issuer: str = "CN=Example CA") -> Certificate:
    return Certificate(subject, issuer, NOW - 30 * 86400, NOW + days_left * 86400, ("api.example",))


def der(path: Path) -> bytes:
    return x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(serialization.Encoding.DER)


def test_parse_reads_subject_issuer_validity_and_names(tmp_path: Path) -> None:
    authority = Authority(tmp_path)
    issued = authority.issue("leaf", ["api.example", "127.0.0.1"], valid_for=10 * DAY)
    chain = tls_rules.parse([der(issued.cert), der(authority.ca_file), b"not a certificate"])
    assert len(chain) == 2
    leaf, root = chain
    assert (leaf.subject, leaf.issuer, leaf.names) == (
        "CN=api.example",
        "CN=Vigil test CA",
        ("api.example", "127.0.0.1"),
    )
    assert leaf.not_after == issued.not_after.timestamp()
    assert leaf.described == "CN=api.example, issued by CN=Vigil test CA"
    assert root.described == "CN=Vigil test CA (self-signed)"
    assert tls_rules.first_to_expire(chain) == leaf
    assert tls_rules.first_to_expire([]) is None


@pytest.mark.parametrize(
    ("days", "status", "output"),
    [
        (90, Status.PASS, "first expiry 2027-04-15 08:00:00 UTC (in 90.0 d): CN=api.example, issued by CN=Example CA"),
        (
            21.5,
            Status.PASS,
            "first expiry 2027-02-05 20:00:00 UTC (in 21.5 d): CN=api.example, issued by CN=Example CA",
        ),
        (
            21,  # at the threshold: reached
            Status.WARN,
            "certificate expires in 21.0 d, on 2027-02-05 08:00:00 UTC, at or below the 21d warn threshold: "
            "CN=api.example, issued by CN=Example CA",
        ),
        (
            20.5,
            Status.WARN,
            "certificate expires in 20.5 d, on 2027-02-04 20:00:00 UTC, at or below the 21d warn threshold: "
            "CN=api.example, issued by CN=Example CA",
        ),
        (
            3,
            Status.FAIL,
            "certificate expires in 3.0 d, on 2027-01-18 08:00:00 UTC, at or below the 7d fail threshold: "
            "CN=api.example, issued by CN=Example CA",
        ),
        (
            -2,
            Status.FAIL,
            "certificate expired 2.0 d ago, on 2027-01-13 08:00:00 UTC: CN=api.example, issued by CN=Example CA",
        ),
    ],
)
def test_expiry_thresholds(days: float, status: Status, output: str) -> None:
    assert tls_rules.judge_expiry(cert(days), NOW, WARN, FAIL) == (status, output)


def test_the_certificate_that_expires_first_is_named_even_when_it_is_not_the_leaf() -> None:
    leaf = cert(300)
    intermediate = cert(5, subject="CN=Example Intermediate", issuer="CN=Example Root")
    first = tls_rules.first_to_expire([leaf, intermediate])
    assert first == intermediate
    status, output = tls_rules.judge_expiry(first, NOW, WARN, FAIL)
    assert status is Status.FAIL and output.endswith(": CN=Example Intermediate, issued by CN=Example Root")


@pytest.mark.parametrize(
    ("version", "minimum", "problem"),
    [
        ("TLSv1.3", "TLSv1.2", None),
        ("TLSv1.2", "TLSv1.2", None),
        ("TLSv1.2", "TLSv1.3", "negotiated TLSv1.2, older than the minimum TLSv1.3"),
        ("TLSv1.1", "TLSv1.2", "negotiated TLSv1.1, older than the minimum TLSv1.2"),
        ("SSLv3", "TLSv1", "negotiated SSLv3, older than the minimum TLSv1"),
        ("QUIC?", "TLSv1", "negotiated QUIC?, older than the minimum TLSv1"),
    ],
)
def test_protocol_minimum(version: str, minimum: str, problem: str | None) -> None:
    assert tls_rules.judge_protocol(version, minimum) == problem


def test_rejections_name_the_certificate_at_fault() -> None:
    expired = cert(-3)
    assert tls_rules.rejection(10, "certificate has expired", [expired], "api.example", NOW) == (
        "certificate expired 3.0 d ago, on 2027-01-12 08:00:00 UTC: CN=api.example, issued by CN=Example CA"
    )
    assert tls_rules.rejection(10, "certificate has expired", [], "api.example", NOW) == "certificate has expired"
    early = Certificate("CN=api.example", "CN=Example CA", NOW + 86400, NOW + 90 * 86400, ())
    assert tls_rules.rejection(9, "certificate is not yet valid", [early], "api.example", NOW) == (
        "certificate is not valid until 2027-01-16 08:00:00 UTC: CN=api.example, issued by CN=Example CA"
    )
    assert tls_rules.rejection(62, "Hostname mismatch", [cert(90)], "www.example", NOW) == (
        "certificate is not valid for www.example (it names api.example): CN=api.example, issued by CN=Example CA"
    )
    assert (
        tls_rules.rejection(64, "IP address mismatch", [], "10.0.0.1", NOW) == "certificate is not valid for 10.0.0.1"
    )
    assert tls_rules.rejection(19, "self-signed certificate in certificate chain", [cert(90)], "api.example", NOW) == (
        "certificate chain does not verify: self-signed certificate in certificate chain (a private CA needs "
        "tls_ca_file): CN=api.example, issued by CN=Example CA"
    )
    assert tls_rules.rejection(26, "unsupported certificate purpose", [], "x", NOW) == (
        "certificate rejected: unsupported certificate purpose"
    )
