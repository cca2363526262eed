"""The `https` check: the plain-http URL redirects to https on the same host (301/308; 302 warns), and the https
answer carries Strict-Transport-Security with max-age at least the minimum (judged by https_rules)."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit, urlunsplit

import aiohttp

from app import units
from app.checks.base import NoMemo
from app.checks.http import https_rules
from app.checks.http.calls import HttpContext, api_headers, request, target
from app.checks.http.errors import NoAnswer, reason
from app.checks.http.production_config import HttpHttps
from app.checks.judging import Finding
from app.model import Observation, Outcome, Status


def plain_url(url: str, path: str) -> str:
    """The http:// twin of an https:// URL: same host and path, port 80."""
    parts = urlsplit(urljoin(url, path) if path else url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    return urlunsplit(("http", netloc, parts.path or "/", parts.query, ""))


async def run(ctx: HttpContext[HttpHttps, NoMemo]) -> Outcome:
    options: HttpHttps = ctx.options
    component = ctx.component
    https_url = target(component, options.path)
    http_url = options.http_url or plain_url(component.url, options.path)
    headers = api_headers(component)
    findings: list[Finding] = []
    observed: list[Observation] = []
    said: list[str] = []

    try:
        plain = await request(ctx, "GET", http_url, limit=options.request_timeout, headers=headers)
    except (aiohttp.ClientError, NoAnswer) as exc:
        findings.append((Status.FAIL, f"{http_url}: {reason(exc)}; nothing redirects plain http to https"))
    else:
        observed.append(Observation("redirect_status", plain.status))
        problems, to = https_rules.judge_redirect(http_url, plain.status, plain.headers.get("location"))
        findings.extend(problems)
        if to is not None:
            said.append(f"{http_url} redirects to {to} (HTTP {plain.status})")

    try:
        secure = await request(ctx, "GET", https_url, limit=options.request_timeout, headers=headers)
    except (aiohttp.ClientError, NoAnswer) as exc:
        findings.append((Status.FAIL, f"{https_url}: {reason(exc)}"))
    else:
        problems, hsts = https_rules.judge_hsts(
            https_url, secure.values("Strict-Transport-Security"), options.min_max_age, options.include_subdomains
        )
        findings.extend(problems)
        if hsts is not None:
            observed.append(Observation("hsts_max_age", hsts.max_age, "s"))
            extras = "".join(
                f", {name}"
                for name, on in (("includeSubDomains", hsts.include_subdomains), ("preload", hsts.preload))
                if on
            )
            said.append(f"Strict-Transport-Security max-age {units.age(hsts.max_age)}{extras}")
    return Outcome.from_findings(findings, observed, ok="; ".join(said))
