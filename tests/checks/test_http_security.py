"""Security configuration on the `http` type against real HTTPS sites on loopback (devenv.securesite), with
certificates made here by a private CA (devenv.certs): `tls` (valid for a year, expiring in 3 days, for the wrong
host, expired, an unknown CA, an old protocol), `https` (redirect and HSTS) and header conditions on `reachable`.

Each broken variant fails (or warns) exactly its own check with an output naming the cause; the others stay green.
"""

from __future__ import annotations

import datetime
import re
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.model import CheckId, CheckResult, Status
from app.units import timestamp
from devenv.certs import DAY, Authority, Issued
from devenv.securesite import SiteOptions, serve_site
from tests.conftest import check_runner, make_settings

CHECKS = ("home", "headers", "tls", "https")
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": {"present": True},
    "X-Frame-Options": {"matches": "^(DENY|SAMEORIGIN)$"},
    "X-Powered-By": {"present": False},
}


@dataclass(frozen=True)
class Certs:
    ca: Path
    year: Issued
    soon: Issued
    wrong_host: Issued
    expired: Issued


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    authority = Authority(tmp_path_factory.mktemp("ca"))
    return Certs(
        ca=authority.ca_file,
        year=authority.issue("year", ["127.0.0.1", "localhost"], valid_for=365 * DAY),
        soon=authority.issue("soon", ["127.0.0.1"], valid_for=3 * DAY),
        wrong_host=authority.issue("wrong-host", ["other.example"], valid_for=365 * DAY),
        expired=authority.issue("expired", ["127.0.0.1"], valid_for=-3 * DAY),
    )


@dataclass(frozen=True)
class Stack:
    secure: str  # https://127.0.0.1:P
    plain: str  # http://127.0.0.1:Q (the plain-http twin)


Twin = Callable[[str], SiteOptions]  # the plain-http twin's options, from the https site's URL


def redirect(status: int = 301) -> Twin:
    return lambda url: SiteOptions(redirect_to=url, redirect_status=status)


@asynccontextmanager
async def stack(
    issued: Issued,
    site: SiteOptions | None = None,
    twin: Twin | None = None,
    maximum: ssl.TLSVersion | None = None,
) -> AsyncIterator[Stack]:
    """The https site, and its plain-http twin (by default a 301 redirect to it)."""
    site, twin = site or SiteOptions(), twin or redirect()
    async with serve_site(site, issued.server_context(maximum)) as secure, serve_site(twin(secure.url)) as plain:
        yield Stack(secure.url, plain.url)


def settings(served: Stack, ca: Path | None, *, tls: dict[str, Any] | None = None, **component: Any) -> Any:
    return make_settings(
        defaults={"interval": 30, "timeout": 5},
        components={
            "web": {
                "type": "http",
                "url": served.secure,
                **({"tls_ca_file": str(ca)} if ca else {}),
                "connect_timeout": 1,
                **component,
                "checks": {
                    "home": {"kind": "reachable", "path": "/fast"},
                    "headers": {
                        "kind": "reachable",
                        "path": "/",
                        "area": "security",
                        "expect_headers": HEADERS,
                        "body_contains": "Welcome",
                    },
                    "tls": {"kind": "tls", **(tls or {})},
                    "https": {"kind": "https", "http_url": f"{served.plain}/", "include_subdomains": True},
                },
            }
        },
    )


async def run_all(config: Any) -> dict[str, CheckResult]:
    async with check_runner(config) as scheduler:
        return {name: await scheduler.runners[CheckId("web", name)].run(scheduled=False) for name in CHECKS}


def shown(results: dict[str, CheckResult]) -> str:
    return "\n".join(f"{name}: {r.status} {r.output}" for name, r in results.items())


def expect_only(results: dict[str, CheckResult], check: str, status: Status) -> None:
    expected = {name: status if name == check else Status.PASS for name in CHECKS}
    assert {name: r.status for name, r in results.items()} == expected, shown(results)


def date(issued: Issued) -> str:
    return f"{timestamp(issued.not_after.timestamp())} UTC"


async def test_well_configured_site_passes_every_check(certs: Certs) -> None:
    async with stack(certs.year) as served:
        results = await run_all(settings(served, certs.ca))
    assert all(r.status is Status.PASS for r in results.values()), shown(results)
    assert results["tls"].output == (
        f"TLSv1.3, chain valid for 127.0.0.1; first expiry {date(certs.year)} (in 365.0 d): "
        "CN=127.0.0.1, issued by CN=Vigil test CA"
    )
    assert re.fullmatch(r"HTTP 200 in [\d.]+ m?s; 5 header and body conditions hold", results["headers"].output)
    assert results["https"].output == (
        f"{served.plain}/ redirects to {served.secure}/ (HTTP 301); "
        "Strict-Transport-Security max-age 365.0 d, includeSubDomains"
    )
    observed = {o.name: o for o in results["tls"].observed}
    assert observed["cert_expiry"].unit == "s"
    assert 364 * 86400 < observed["cert_expiry"].value <= 365 * 86400  # type: ignore[operator]
    assert observed["cert_expiry"].limit is not None and observed["cert_expiry"].limit.value == 7 * 86400
    assert (observed["tls_version"].value, observed["chain_length"].value) == ("TLSv1.3", 1)
    assert {o.name: o.value for o in results["https"].observed} == {"redirect_status": 301, "hsts_max_age": 31536000}


CERTIFICATE_CASES = [
    pytest.param(
        "soon",
        {},
        {},
        Status.FAIL,
        "certificate expires in 3.0 d, on {date}, at or below the 7d fail threshold: CN=127.0.0.1, issued by CN=Vigil test CA",
        id="expires-in-3-days",
    ),
    pytest.param(
        "soon",
        {"fail_before": "2d"},
        {},
        Status.WARN,
        "certificate expires in 3.0 d, on {date}, at or below the 21d warn threshold: CN=127.0.0.1, issued by CN=Vigil test CA",
        id="expires-in-3-days-warn-only",
    ),
    pytest.param(
        "wrong_host",
        {},
        {"verify_tls": False},  # the session's checks do not verify; the tls check always does
        Status.FAIL,
        "certificate is not valid for 127.0.0.1 (it names other.example): CN=other.example, issued by CN=Vigil test CA",
        id="wrong-host",
    ),
    pytest.param(
        "expired",
        {},
        {"verify_tls": False},
        Status.FAIL,
        "certificate expired 3.0 d ago, on {date}: CN=127.0.0.1, issued by CN=Vigil test CA",
        id="expired",
    ),
]


@pytest.mark.parametrize(("cert", "tls", "component", "status", "output"), CERTIFICATE_CASES)
async def test_each_certificate_fault_is_named(
    certs: Certs, cert: str, tls: dict[str, Any], component: dict[str, Any], status: Status, output: str
) -> None:
    issued: Issued = getattr(certs, cert)
    async with stack(issued) as served:
        results = await run_all(settings(served, certs.ca, tls=tls, **component))
    expect_only(results, "tls", status)
    assert results["tls"].output == output.format(date=date(issued))
    expiry = {o.name: o.value for o in results["tls"].observed}["cert_expiry"]
    days = (issued.not_after - datetime.datetime.now(datetime.UTC)).total_seconds() / 86400
    assert abs(expiry / 86400 - days) < 0.01  # type: ignore[operator]


async def test_a_chain_from_an_unknown_ca_does_not_verify(certs: Certs) -> None:
    async with stack(certs.year) as served:
        results = await run_all(settings(served, None, verify_tls=False))
    expect_only(results, "tls", Status.FAIL)
    assert results["tls"].output == (
        "certificate chain does not verify: unable to get local issuer certificate (a private CA needs tls_ca_file): "
        "CN=127.0.0.1, issued by CN=Vigil test CA"
    )


async def test_protocol_below_the_minimum(certs: Certs) -> None:
    async with stack(certs.year, maximum=ssl.TLSVersion.TLSv1_2) as served:
        old = await run_all(settings(served, certs.ca))
        strict = await run_all(settings(served, certs.ca, tls={"min_protocol": "TLSv1.3"}))
    assert all(r.status is Status.PASS for r in old.values()), shown(old)
    assert old["tls"].output.startswith("TLSv1.2, chain valid for 127.0.0.1; first expiry ")
    expect_only(strict, "tls", Status.FAIL)
    assert strict["tls"].output == "negotiated TLSv1.2, older than the minimum TLSv1.3"
    assert {o.name: o.value for o in strict["tls"].observed}["tls_version"] == "TLSv1.2"


HTTPS_CASES = [
    pytest.param(
        SiteOptions(),
        lambda url: SiteOptions(),
        Status.FAIL,
        "{plain}/ answered HTTP 200 instead of redirecting to https",
        id="no-redirect",
    ),
    pytest.param(
        SiteOptions(),
        redirect(302),
        Status.WARN,
        "{plain}/ redirects to https with HTTP 302, a temporary redirect browsers do not remember; use 301 or 308",
        id="temporary-redirect",
    ),
    pytest.param(
        SiteOptions(hsts=None), redirect(), Status.FAIL, "no Strict-Transport-Security header on {secure}", id="no-hsts"
    ),
    pytest.param(
        SiteOptions(hsts="max-age=300; includeSubDomains"),
        redirect(),
        Status.FAIL,
        "Strict-Transport-Security max-age is 5 min (300 s), below the minimum 180d",
        id="short-max-age",
    ),
    pytest.param(
        SiteOptions(hsts="max-age=31536000"),
        redirect(308),
        Status.FAIL,
        "Strict-Transport-Security has no includeSubDomains",
        id="no-include-subdomains",
    ),
]


@pytest.mark.parametrize(("site", "twin", "status", "output"), HTTPS_CASES)
async def test_each_https_fault_is_named(
    certs: Certs, site: SiteOptions, twin: Twin, status: Status, output: str
) -> None:
    async with stack(certs.year, site, twin) as served:
        results = await run_all(settings(served, certs.ca))
    expect_only(results, "https", status)
    assert results["https"].output == output.format(plain=served.plain, secure=served.secure)


async def test_every_failed_header_and_body_condition_is_named(certs: Certs) -> None:
    broken = SiteOptions(
        headers={"X-Content-Type-Options": "sniff", "X-Frame-Options": "ALLOWALL", "X-Powered-By": "PHP/5.4"},
        body="<h1>Maintenance</h1>",
    )
    async with stack(certs.year, broken) as served:
        results = await run_all(settings(served, certs.ca))
    expect_only(results, "headers", Status.FAIL)
    assert results["headers"].output == (
        'header X-Content-Type-Options is "sniff", expected "nosniff"; header Content-Security-Policy missing; '
        'header X-Frame-Options is "ALLOWALL", does not match "^(DENY|SAMEORIGIN)$"; '
        'header X-Powered-By present ("PHP/5.4"), expected absent; body does not contain "Welcome"'
    )


async def test_tls_on_a_closed_port_names_the_refusal(certs: Certs) -> None:
    async with stack(certs.year) as served:
        pass  # stopped: nothing listens on its port any more
    results = await run_all(settings(served, certs.ca))
    port = served.secure.rsplit(":", 1)[1]
    assert results["tls"].status is Status.FAIL
    assert results["tls"].output == f"cannot reach 127.0.0.1:{port}: connection refused"
