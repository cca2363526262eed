"""A private certificate authority for tests and demos: server certificates for chosen names and validity windows
(valid, expiring soon, expired, for another host), written as PEM files, and server TLS contexts that serve them.

`python -m devenv.certs DIR --name 127.0.0.1` writes ca.pem, server.pem and server-key.pem for a local demo.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DAY = datetime.timedelta(days=1)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _alt_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass(frozen=True)
class Issued:
    cert: Path  # the server certificate, PEM (followed by the chain it was issued with, if any)
    key: Path
    not_after: datetime.datetime
    subject: str  # RFC 4514, as Vigil prints it

    def server_context(self, maximum: ssl.TLSVersion | None = None) -> ssl.SSLContext:
        """A server context serving this certificate (and no protocol newer than `maximum`)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        if maximum is not None:
            context.maximum_version = maximum
        return context


class Authority:
    """A root CA (valid ten years from yesterday) whose certificate is written to `directory/ca.pem`."""

    def __init__(self, directory: Path, common_name: str = "Vigil test CA") -> None:
        self.directory = directory
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = _name(common_name)
        now = _now()
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(self.name)
            .issuer_name(self.name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - DAY)
            .not_valid_after(now + 3650 * DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        self.ca_file = directory / "ca.pem"
        self.ca_file.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    @property
    def subject(self) -> str:
        return self.name.rfc4514_string()

    def issue(
        self,
        stem: str,
        names: list[str],
        *,
        valid_for: datetime.timedelta = 365 * DAY,
        not_before: datetime.timedelta = -DAY,
    ) -> Issued:
        """A server certificate for `names` (DNS names or addresses; the first is its CN), valid from `not_before`
        to `valid_for` from now (both relative; a negative `valid_for` gives an expired certificate)."""
        now = _now()
        key = ec.generate_private_key(ec.SECP256R1())
        not_after = now + valid_for
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(names[0]))
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(min(now + not_before, not_after - DAY))
            .not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([_alt_name(name) for name in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        cert_file, key_file = self.directory / f"{stem}.pem", self.directory / f"{stem}-key.pem"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(_pem_key(key))
        return Issued(cert_file, key_file, not_after, cert.subject.rfc4514_string())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devenv.certs", description=__doc__)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--name", action="append", help="a DNS name or address (repeatable; default 127.0.0.1)")
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args(argv)
    args.directory.mkdir(parents=True, exist_ok=True)
    issued = Authority(args.directory).issue("server", args.name or ["127.0.0.1"], valid_for=args.days * DAY)
    print(f"CA {args.directory / 'ca.pem'}; certificate {issued.cert}, key {issued.key}")


if __name__ == "__main__":
    main()
