"""The `http` component type: a generic HTTP endpoint and its `reachable` check.

Status in an expected set, a latency budget, optional JSON field equality; redirects only when configured.
"""

from __future__ import annotations

import json
import re
import time
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urljoin, urlsplit

import aiohttp
from pydantic import Field, SecretStr, field_validator

from app.checks.base import CheckContext, CheckKind, ComponentType
from app.clients.http import HttpClient, HttpSettings
from app.model import Observation, Outcome, Status
from app.schema import CheckConfig, ComponentConfig, Duration

_MAX_BODY = 1_048_576  # bytes read from a response body at most
_SENSITIVE_HEADER = re.compile(r"^(authorization|proxy-authorization|cookie|x-api-key)$|token|secret|key|pass", re.I)


class HttpReachable(CheckConfig):
    """One request; pass when the status is expected, the latency within budget and the JSON fields equal."""

    kind: Literal["reachable"] = "reachable"
    path: str = ""
    method: Literal["GET", "HEAD", "POST", "OPTIONS"] = "GET"
    expect_status: list[int] = Field(default_factory=lambda: [200], min_length=1)
    latency_budget: Duration | None = None  # fail when slower
    latency_warn: Duration | None = None  # warn when slower
    json_fields: dict[str, Any] = Field(default_factory=dict)  # dotted path -> expected value
    follow_redirects: bool = False
    max_redirects: int = Field(default=3, ge=0, le=10)


HttpCheck = Annotated[HttpReachable, Field(discriminator="kind")]


class HttpComponent(ComponentConfig):
    secret_fields: ClassVar[tuple[str, ...]] = ("bearer_token",)

    type: Literal["http"]
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    bearer_token: SecretStr | None = None  # sent as `Authorization: Bearer …`
    verify_tls: bool = True
    tls_ca_file: str | None = None  # CA bundle for a private CA (default: the system's)
    max_connections: int = Field(default=4, ge=1, le=100)
    connect_timeout: Duration = 1.0
    checks: dict[str, HttpCheck] = Field(default_factory=lambda: {"reachable": HttpReachable()})

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        return url

    @property
    def socket_deadline(self) -> float:
        return self.connect_timeout

    def secret_values(self) -> list[str]:
        values = super().secret_values()
        if password := urlsplit(self.url).password:
            values.append(password)
        # Credentials in plain headers (Authorization, X-Api-Key, ...) are masked like any other secret.
        for name, value in self.headers.items():
            if _SENSITIVE_HEADER.search(name):
                values.append(value)
                scheme, _, credential = value.partition(" ")
                if credential and scheme.lower() in ("bearer", "basic", "token"):
                    values.append(credential)
        return values


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


def lookup(document: Any, dotted: str) -> tuple[bool, Any]:
    """`a.b.0.c` into nested dicts and lists; (found, value)."""
    node = document
    for part in dotted.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False, None
    return True, node


async def reachable(ctx: CheckContext[Any, Any, HttpClient, Any]) -> Outcome:
    component: HttpComponent = ctx.component
    options: HttpReachable = ctx.options
    url = urljoin(component.url, options.path) if options.path else component.url
    headers = dict(component.headers)
    if component.bearer_token is not None:
        headers["Authorization"] = f"Bearer {component.bearer_token.get_secret_value()}"
    timeout = ctx.client.timeout(connect=min(component.connect_timeout, ctx.remaining()), total=ctx.remaining())
    started = time.perf_counter()
    async with ctx.client.session.request(
        options.method,
        url,
        headers=headers,
        timeout=timeout,
        allow_redirects=options.follow_redirects,
        max_redirects=options.max_redirects,
    ) as response:
        body = await response.content.read(_MAX_BODY) if options.json_fields else b""
        latency = time.perf_counter() - started
        status_code = response.status
        redirects = len(response.history)
    observed = [
        Observation("latency", round(latency, 6), "s"),
        Observation("status_code", status_code),
    ]
    if redirects:
        observed.append(Observation("redirects", redirects))
    findings: list[tuple[Status, str]] = []
    if status_code not in options.expect_status:
        findings.append((Status.FAIL, f"HTTP {status_code}, expected {' or '.join(map(str, options.expect_status))}"))
    if options.latency_budget is not None and latency > options.latency_budget:
        findings.append((Status.FAIL, f"took {latency * 1000:.0f} ms, budget {options.latency_budget * 1000:.0f} ms"))
    elif options.latency_warn is not None and latency > options.latency_warn:
        findings.append((Status.WARN, f"took {latency * 1000:.0f} ms, warn above {options.latency_warn * 1000:.0f} ms"))
    if options.json_fields and status_code in options.expect_status:
        findings.extend(_json_findings(body, options.json_fields))
    return Outcome.from_findings(findings, observed, ok=f"HTTP {status_code} in {latency * 1000:.1f} ms")


def _json_findings(body: bytes, expected: dict[str, Any]) -> list[tuple[Status, str]]:
    try:
        document = json.loads(body)
    except ValueError:
        return [(Status.FAIL, "body is not JSON")]
    findings: list[tuple[Status, str]] = []
    for path, want in expected.items():
        found, got = lookup(document, path)
        if not found:
            findings.append((Status.FAIL, f"JSON field {path} missing"))
        elif got != want:
            findings.append((Status.FAIL, f"JSON field {path} is {json.dumps(got)[:80]}, expected {json.dumps(want)[:80]}"))
    return findings


def describe_error(exc: BaseException) -> str | None:
    if isinstance(exc, aiohttp.TooManyRedirects):
        return "too many redirects"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect: {exc.os_error.strerror or exc.os_error}"
    if isinstance(exc, aiohttp.ClientError):
        return f"{type(exc).__name__}: {exc}"
    return None


HTTP = ComponentType(
    config=HttpComponent,
    kinds=(CheckKind(HttpReachable, reachable),),
    open_client=open_client,
    close_client=close_client,
    describe_error=describe_error,
)
