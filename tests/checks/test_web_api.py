"""The `cors`, `jwt` and `websocket` checks against the real demo API (devenv.webapp under uvicorn on loopback).

The well-configured API passes all three; each broken variant fails exactly its own check, with an output
naming the cause, while the other two stay green. Also over TLS with a CA made here, and no token ever leaks.
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from app.config.settings import Settings
from app.model import CheckId, CheckResult, Status
from devenv.servers import free_port
from devenv.webapp import Served, WebAppOptions, serve
from tests.conftest import all_ran, check_runner, make_settings
from tests.conftest import serve as serve_vigil

CHECKS = ("cors", "auth", "socket")
ORIGIN = "https://app.example"
EVIL = "https://evil.example"


def api_config(
    served: Served,
    *,
    cors: dict[str, Any] | None = None,
    auth: dict[str, Any] | None = None,
    socket: dict[str, Any] | None = None,
    **component: Any,
) -> dict[str, Any]:
    """The three checks, configured as the issue's example, against a served demo API."""
    options = served.app.options
    return {
        "type": "http",
        "url": served.url,
        "connect_timeout": 1,
        **component,
        "checks": {
            "cors": {
                "kind": "cors",
                "routes": [{"path": "/api/me", "method": "PUT", "headers": ["Authorization", "Content-Type"]}],
                "allowed_origins": [ORIGIN],
                "disallowed_origin": EVIL,
                "credentials": True,
                **(cors or {}),
            },
            "auth": {
                "kind": "jwt",
                "token": {"url": "/auth/token", "client_id": options.client_id, "client_secret": options.client_secret},
                "signing_key": options.signing_key,  # forges the expired and wrong-audience tokens
                "audience": options.audience,  # what the tokens Vigil mints (for the WebSocket) carry
                "issuer": options.issuer,
                "protected": {"path": "/api/me", "method": "GET"},
                **(auth or {}),
            },
            "socket": {
                "kind": "websocket",
                "path": "/ws",
                "origin": ORIGIN,
                "auth": {"check": "auth", "query": "token"},
                "send": '{"type":"ping"}',
                "expect": '"pong"',
                "handshake_timeout": 1.5,
                "reply_timeout": 1.5,
                **(socket or {}),
            },
        },
    }


def api_settings(served: Served, **overrides: Any) -> Settings:
    return make_settings(defaults={"interval": 30, "timeout": 6}, components={"api": api_config(served, **overrides)})


async def run_all(settings: Settings, checks: tuple[str, ...] = CHECKS) -> dict[str, CheckResult]:
    """Each check once, through the real scheduler path."""
    async with check_runner(settings) as scheduler:
        return {name: await scheduler.runners[CheckId("api", name)].run(scheduled=False) for name in checks}


def assert_no_token_in(text: str, served: Served) -> None:
    assert served.app.seen_tokens, "the API saw no token: the test proves nothing"
    for token in served.app.seen_tokens:
        assert token not in text
        signature = token.rsplit(".", 1)[-1]
        assert not signature or signature not in text


def vigil_logs(caplog: pytest.LogCaptureFixture) -> str:
    """What Vigil (and the libraries it calls) logged; the demo API's own uvicorn logs are its business."""
    return "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records if not r.name.startswith("uvicorn"))


def shown(results: dict[str, CheckResult]) -> str:
    return "\n".join(f"{r.status} {r.output} {r.observed}" for r in results.values())


async def test_well_configured_api_passes_all_three() -> None:
    async with serve(WebAppOptions(), free_port()) as served:
        results = await run_all(api_settings(served))
    assert {name: r.status for name, r in results.items()} == dict.fromkeys(CHECKS, Status.PASS), shown(results)
    cors, auth, socket = (results[name] for name in CHECKS)
    assert cors.output == (
        "1 preflight (1 route x 1 origin) allowed as a browser needs; https://evil.example never echoed"
    )
    assert auth.output.startswith("GET /api/me accepted the valid token (HTTP 200 in ")
    assert auth.output.endswith(
        "and refused 6 bad tokens: no token, expired, another key, tampered, alg: none, another audience"
    )
    assert socket.output.startswith("upgrade of /ws in ")
    assert socket.output.endswith("; without a token refused (HTTP 403)")
    observed = {name: {o.name: (o.value, o.unit) for o in r.observed} for name, r in results.items()}
    assert observed["cors"]["max_age"] == (600.0, "s")
    assert observed["cors"]["preflights"] == (1, None)
    assert set(observed["auth"]) == {
        "token_latency",
        "token_lifetime",
        "protected_latency",
        "status_code",
        "bad_tokens_refused",
    }
    lifetime, unit = observed["auth"]["token_lifetime"]
    assert unit == "s" and 500 < lifetime <= 600  # type: ignore[operator]
    assert observed["auth"]["bad_tokens_refused"] == (6, None)
    assert {"handshake_latency", "round_trip_latency"} <= set(observed["socket"])
    assert all(o.unit == "s" for o in results["socket"].observed)


BROKEN = [
    pytest.param(
        {"cors_wildcard_with_credentials": True},
        "cors",
        "PUT /api/me from https://app.example: Access-Control-Allow-Origin is '*' with credentials "
        '(Access-Control-Allow-Credentials: "true"); browsers refuse it',
        id="wildcard-origin-with-credentials",
    ),
    pytest.param(
        {"cors_echo_any_origin": True},
        "cors",
        "the disallowed origin https://evil.example is echoed in Access-Control-Allow-Origin with credentials "
        "on the preflight of PUT /api/me and a simple GET /api/me: any site can call this API",
        id="any-origin-echoed",
    ),
    pytest.param(
        {"allow_methods": ("GET", "POST")},
        "cors",
        'PUT /api/me from https://app.example: method PUT not allowed (Access-Control-Allow-Methods: "GET, POST")',
        id="method-not-allowed",
    ),
    pytest.param(
        {"allow_headers": ("Content-Type",)},
        "cors",
        "PUT /api/me from https://app.example: header Authorization not allowed "
        '(Access-Control-Allow-Headers: "Content-Type")',
        id="header-not-allowed",
    ),
    pytest.param(
        {"cors_no_vary": True},
        "cors",
        "PUT /api/me from https://app.example: the origin is echoed without Vary: Origin (Vary: absent); "
        "a shared cache would serve this answer to other origins",
        id="no-vary-origin",
    ),
    pytest.param(
        {"accept_expired": True},
        "auth",
        "security hole: GET /api/me accepted an expired token (HTTP 200)",
        id="expired-token-accepted",
    ),
    pytest.param(
        {"accept_alg_none": True},
        "auth",
        "security hole: GET /api/me accepted an unsigned token (alg: none) (HTTP 200)",
        id="alg-none-accepted",
    ),
    pytest.param(
        {"accept_any_audience": True},
        "auth",
        "security hole: GET /api/me accepted a token for another audience (HTTP 200)",
        id="any-audience-accepted",
    ),
    pytest.param(
        {"token_endpoint_down": True},
        "auth",
        "token endpoint POST /auth/token answered HTTP 503 (temporarily_unavailable)",
        id="token-endpoint-down",
    ),
    pytest.param(
        {"ws_accept_anonymous": True},
        "socket",
        "security hole: /ws accepted a client without a token and answered it",
        id="websocket-accepts-anonymous",
    ),
    pytest.param(
        {"ws_refuse_valid": True},
        "socket",
        "the upgrade of /ws with a token minted with signing_key (HS256) failed: HTTP 403",
        id="websocket-refuses-valid",
    ),
    pytest.param(
        {"ws_never_upgrade": True},
        "socket",
        "the upgrade of /ws with a token minted with signing_key (HS256) failed: no answer within 1.5 s",
        id="websocket-never-upgrades",
    ),
    pytest.param(
        {"ws_never_reply": True},
        "socket",
        "/ws: no reply to the message within 1.5 s",
        id="websocket-never-replies",
    ),
]


@pytest.mark.parametrize(("fault", "check", "output"), BROKEN)
async def test_each_fault_fails_exactly_its_check(
    fault: dict[str, Any], check: str, output: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with serve(WebAppOptions(**fault), free_port()) as served:
        results = await run_all(api_settings(served))
    expected = {name: Status.FAIL if name == check else Status.PASS for name in CHECKS}
    assert {name: r.status for name, r in results.items()} == expected, shown(results)
    assert results[check].output == output
    assert_no_token_in(shown(results) + vigil_logs(caplog), served)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A private CA and a certificate it signed for 127.0.0.1: (ca.pem, cert.pem, key.pem)."""
    directory = tmp_path_factory.mktemp("web-tls")
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Vigil test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


async def test_over_tls_with_a_private_ca(tls_files: tuple[Path, Path, Path]) -> None:
    ca, cert, key = tls_files
    async with serve(WebAppOptions(), free_port(), certfile=str(cert), keyfile=str(key)) as served:
        assert served.url.startswith("https://")
        trusted = await run_all(api_settings(served, tls_ca_file=str(ca)))
        untrusted = await run_all(api_settings(served))
    assert all(r.status is Status.PASS for r in trusted.values()), shown(trusted)
    assert all(r.status is Status.FAIL for r in untrusted.values()), shown(untrusted)
    rejected = "does not verify: unable to get local issuer certificate"
    assert untrusted["cors"].output.startswith("the preflight of PUT /api/me from https://app.example: the certificate")
    assert untrusted["cors"].output.endswith(rejected)
    assert untrusted["socket"].output.startswith(
        "the upgrade of /ws with a token minted with signing_key (HS256) failed: the certificate of 127.0.0.1:"
    )
    assert untrusted["socket"].output.endswith(rejected)


async def test_no_token_reaches_health_metrics_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    """Tokens are minted at run time, so no configured scrubber knows them: the checks keep them out themselves."""
    caplog.set_level(logging.DEBUG)
    fault = WebAppOptions(ws_refuse_valid=True, accept_alg_none=True)  # failures whose errors carry the token's URL
    async with serve(fault, free_port()) as served:
        settings = make_settings(
            defaults={"interval": 30, "timeout": 6, "failure_threshold": 1},
            server={"show_details": "always"},
            components={"api": api_config(served)},
        )
        async with serve_vigil(settings) as vigil:
            await vigil.wait(lambda: all_ran(vigil), timeout=30, what="every check ran")
            _, health, _ = await vigil.get("/health")
            _, metrics, _ = await vigil.get("/metrics")
            _, verbose, _ = await vigil.get("/readyz?verbose")
    assert "security hole" in health and "HTTP 403" in health
    assert_no_token_in(health + metrics + verbose + vigil_logs(caplog), served)
