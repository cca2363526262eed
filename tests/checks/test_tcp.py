"""The `tcp` component type against real loopback sockets: a listening port, a TLS site (devenv.securesite with a
certificate from devenv.certs), a port that accepts and never answers the TLS hello, a closed port, a name that
does not resolve; and its configuration rules. Each case gives exactly its status and an output naming the cause.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.config.fields import Area, Severity
from app.config.settings import ConfigError, load_settings
from app.config.specs import resolve
from app.model import CheckResult, Status
from app.units import timestamp
from devenv.certs import DAY, Authority, Issued
from devenv.securesite import SiteOptions, serve_site
from tests.conftest import HangingServer, check_runner, make_settings, run_check


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    return Authority(tmp_path_factory.mktemp("tcp-ca"))


@pytest.fixture(scope="module")
def year(authority: Authority) -> Issued:
    return authority.issue("year", ["127.0.0.1", "localhost"], valid_for=365 * DAY)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound but not listening: a connection to it is refused, and no other process can take it meanwhile."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield int(sock.getsockname()[1])
    sock.close()


def tcp(host: str, port: int, checks: dict[str, Any] | None = None, **component: Any) -> Any:
    return make_settings(
        defaults={"interval": 30, "timeout": 3},
        components={
            "dep": {
                "type": "tcp",
                "host": host,
                "port": port,
                "connect_timeout": 0.5,
                "handshake_timeout": 0.5,
                **component,
                "checks": checks or {"connect": {}},
            }
        },
    )


async def run_all(config: Any) -> dict[str, CheckResult]:
    async with check_runner(config) as scheduler:
        return {cid.check: await runner.run(scheduled=False) for cid, runner in scheduler.runners.items()}


def values(result: CheckResult) -> dict[str, Any]:
    return {o.name: o.value for o in result.observed}


async def test_connect_to_a_listening_port() -> None:
    async with serve_site(SiteOptions()) as site:
        port = int(site.url.rsplit(":", 1)[1])
        by_address = await run_check(tcp("127.0.0.1", port), "dep", "connect")
        by_name = await run_check(tcp("localhost", port), "dep", "connect")
    assert by_address.status is Status.PASS, by_address.output
    assert by_address.output.startswith(f"connected to 127.0.0.1:{port} in ")
    assert by_name.status is Status.PASS, by_name.output
    assert by_name.output.startswith(f"connected to localhost:{port} (")
    observed = {o.name: o for o in by_address.observed}
    assert observed["connect_latency"].unit == "s" and set(observed) == {"connect_latency"}


async def test_connect_with_tls_shakes_hands_and_tls_judges_the_chain(authority: Authority, year: Issued) -> None:
    async with serve_site(SiteOptions(), year.server_context()) as site:
        port = int(site.url.rsplit(":", 1)[1])
        results = await run_all(
            tcp("127.0.0.1", port, {"connect": {}, "tls": {}}, tls=True, tls_ca_file=str(authority.ca_file))
        )
        named = await run_all(
            tcp(
                "127.0.0.1",
                port,
                {"tls": {}},
                tls=True,
                tls_ca_file=str(authority.ca_file),
                server_name="localhost",
            )
        )
    connect, tls = results["connect"], results["tls"]
    assert (connect.status, tls.status) == (Status.PASS, Status.PASS), (connect.output, tls.output)
    assert connect.output.startswith(f"connected to 127.0.0.1:{port} in ")
    assert "; TLSv1.3 handshake in " in connect.output
    assert values(connect)["tls_version"] == "TLSv1.3"
    assert tls.output == (
        f"TLSv1.3, chain valid for 127.0.0.1; first expiry {timestamp(year.not_after.timestamp())} UTC (in 365.0 d): "
        "CN=127.0.0.1, issued by CN=Vigil test CA"
    )
    assert named["tls"].status is Status.PASS and "chain valid for localhost;" in named["tls"].output


async def test_expiring_certificate_fails_tls_and_connect_stays_green(authority: Authority) -> None:
    soon = authority.issue("tcp-soon", ["127.0.0.1"], valid_for=3 * DAY)
    async with serve_site(SiteOptions(), soon.server_context()) as site:
        port = int(site.url.rsplit(":", 1)[1])
        results = await run_all(
            tcp("127.0.0.1", port, {"connect": {}, "tls": {}}, tls=True, tls_ca_file=str(authority.ca_file))
        )
    assert results["connect"].status is Status.PASS, results["connect"].output
    assert results["tls"].status is Status.FAIL
    assert results["tls"].output == (
        f"certificate expires in 3.0 d, on {timestamp(soon.not_after.timestamp())} UTC, at or below the 7d fail threshold: "
        "CN=127.0.0.1, issued by CN=Vigil test CA"
    )


async def test_a_port_that_never_answers_the_tls_hello(hanging_server: HangingServer) -> None:
    result = await run_check(tcp("127.0.0.1", hanging_server.port, tls=True), "dep", "connect")
    assert result.status is Status.FAIL
    assert result.output == (
        f"127.0.0.1:{hanging_server.port} accepted the connection but did not answer the TLS hello within 500 ms"
    )


async def test_a_closed_port_is_refused(closed_port: int) -> None:
    result = await run_check(tcp("127.0.0.1", closed_port), "dep", "connect")
    assert result.status is Status.FAIL
    assert result.output == f"cannot reach 127.0.0.1:{closed_port}: connection refused"


async def test_a_name_that_does_not_resolve() -> None:
    # The machine's resolver answers NXDOMAIN, or (no DNS reachable) never answers: both name the lookup.
    result = await run_check(tcp("nonexistent.invalid", 5432), "dep", "connect")
    assert result.status is Status.FAIL
    assert result.output.startswith("DNS lookup of nonexistent.invalid "), result.output
    assert result.output.startswith("DNS lookup of nonexistent.invalid failed: ") or result.output == (
        "DNS lookup of nonexistent.invalid got no answer within 500 ms"
    ), result.output


async def test_lookups_do_not_use_the_loops_default_executor() -> None:
    """Every thread of the loop's default executor is busy (as under a hung resolver): a name still resolves."""
    loop = asyncio.get_running_loop()
    release = threading.Event()
    busy = [loop.run_in_executor(None, release.wait, 30) for _ in range(64)]
    try:
        async with serve_site(SiteOptions()) as site:
            port = int(site.url.rsplit(":", 1)[1])
            result = await run_check(tcp("localhost", port), "dep", "connect")
    finally:
        release.set()
        await asyncio.gather(*busy)
    assert result.status is Status.PASS, result.output


def load(tmp_path: Path, component: dict[str, Any], **top: Any) -> Any:
    path = tmp_path / "vigil.yaml"
    path.write_text(yaml.safe_dump({**top, "components": {"dep": {"type": "tcp", **component}}}))
    return load_settings(path)


def problems(tmp_path: Path, component: dict[str, Any], **top: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, component, **top)
    return caught.value.problems


def test_defaults_severity_and_area(tmp_path: Path) -> None:
    settings = load(tmp_path, {"host": "db.internal", "port": 5432, "tls": True, "checks": {"connect": {}, "tls": {}}})
    dep = settings.components["dep"]
    assert (dep.connect_timeout, dep.handshake_timeout, dep.server_name, dep.tls_ca_file) == (1.0, 2.0, None, None)
    tls = dep.checks["tls"]
    assert (tls.warn_before, tls.fail_before, tls.min_protocol) == (21 * 86400, 7 * 86400, "TLSv1.2")
    specs = {spec.id.check: spec for spec in resolve(settings)}
    assert (specs["connect"].severity, specs["connect"].area) == (Severity.CRITICAL, Area.COMMUNICATION)
    assert (specs["tls"].severity, specs["tls"].area) == (Severity.DEGRADED, Area.SECURITY)
    plain = load(tmp_path, {"host": "db.internal", "port": 5432})
    assert list(plain.components["dep"].checks) == ["connect"]


def test_bad_options_name_their_field(tmp_path: Path) -> None:
    found = problems(tmp_path, {"host": "db.internal:5432", "port": 5432})
    assert found == [
        "components.dep.host: 'db.internal:5432': write the name or address alone; the port goes in `port`"
    ]
    found = problems(tmp_path, {"host": "db.internal", "port": 5432, "checks": {"cert": {"kind": "tls"}}})
    assert found == ["components.dep.checks.cert: a tls check needs `tls: true` on the component (the port speaks TLS)"]
    found = problems(
        tmp_path,
        {"host": "db", "port": 1, "tls": True, "checks": {"tls": {"warn_before": "3d", "fail_before": "7d"}}},
    )
    assert found == ["components.dep.checks.tls.fail_before: 7d is longer than warn_before (72h)"]
    explicit = {"connect_timeout": "1s", "handshake_timeout": "2s"}  # set by hand: not fitted to the check
    found = problems(
        tmp_path, {"host": "db", "port": 1, "tls": True, **explicit}, defaults={"timeout": "3s", "interval": "10s"}
    )
    assert found == [
        "components.dep.checks.connect.timeout: 3s must be longer than the component's connect/socket timeouts (3s)"
    ]


async def test_tls_to_a_port_that_speaks_plain_http() -> None:
    async with serve_site(SiteOptions()) as site:
        port = int(site.url.rsplit(":", 1)[1])
        result = await run_check(tcp("127.0.0.1", port, tls=True), "dep", "connect")
    assert result.status is Status.FAIL
    assert result.output == (
        f"the TLS handshake with 127.0.0.1:{port} failed: wrong version number (is the port speaking TLS?)"
    ), result.output


async def test_connect_with_tls_refuses_a_chain_a_client_would_refuse(authority: Authority, tmp_path: Path) -> None:
    expired = authority.issue("tcp-expired", ["127.0.0.1"], valid_for=-3 * DAY)
    async with serve_site(SiteOptions(), expired.server_context()) as site:
        port = int(site.url.rsplit(":", 1)[1])
        result = await run_check(tcp("127.0.0.1", port, tls=True, tls_ca_file=str(authority.ca_file)), "dep", "connect")
        missing = tmp_path / "missing-ca.pem"
        no_ca = await run_check(tcp("127.0.0.1", port, tls=True, tls_ca_file=str(missing)), "dep", "connect")
    assert (result.status, result.output) == (
        Status.FAIL,
        f"the certificate of 127.0.0.1:{port} does not verify: certificate has expired",
    )
    assert (no_ca.status, no_ca.output) == (
        Status.FAIL,
        f"cannot load tls_ca_file {missing}: No such file or directory",
    )


async def test_latency_warn(hanging_server: HangingServer) -> None:
    result = await run_check(tcp("127.0.0.1", hanging_server.port, {"connect": {"latency_warn": 0}}), "dep", "connect")
    assert result.status is Status.WARN
    assert re.fullmatch(
        rf"connected to 127\.0\.0\.1:{hanging_server.port} in [\d.]+ m?s; connecting took [\d.]+ m?s, "
        r"at or above the 0s warn threshold",
        result.output,
    )
