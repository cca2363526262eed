"""The options of the readiness kinds on the `http` type (tls, https, latency, resources) as the config file gives
them: defaults, severities and areas, and the rules that tie them to the component."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from app.config.fields import Area, Severity
from app.config.settings import ConfigError, load_settings
from app.config.specs import resolve


def load(tmp_path: Path, url: str, **checks: dict[str, Any]) -> Any:
    path = tmp_path / "vigil.yaml"
    path.write_text(
        yaml.safe_dump({"components": {"web": {"type": "http", "url": url, "checks": checks}}}, sort_keys=False)
    )
    return load_settings(path)


def problems(tmp_path: Path, url: str, **checks: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, url, **checks)
    return list(caught.value.problems)


def test_defaults_severities_and_areas(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        "https://api.example/",
        home={"kind": "reachable"},
        reachable={"expect_headers": {"X-Content-Type-Options": "nosniff"}},
        tls={},
        https={},
        latency={"paths": {"home": "/"}},
        resources={"memory_limit": "512Mi"},
    )
    checks = settings.components["web"].checks
    tls, https, latency, resources = (checks[name] for name in ("tls", "https", "latency", "resources"))
    assert (tls.warn_before, tls.fail_before, tls.min_protocol, tls.handshake_timeout) == (
        21 * 86400,
        7 * 86400,
        "TLSv1.2",
        2,
    )
    assert (https.path, https.http_url, https.min_max_age, https.include_subdomains, https.request_timeout) == (
        "",
        None,
        180 * 86400,
        False,
        2,
    )
    assert (latency.requests, latency.concurrency, latency.warn_fraction, latency.request_timeout) == (20, 4, 0.8, 1)
    assert (latency.paths["home"].path, latency.paths["home"].budget, latency.expect_status, latency.max_errors) == (
        "/",
        0.2,
        [200],
        0,
    )
    assert (resources.source, resources.metrics_path, resources.cgroup_dir, resources.memory_limit) == (
        "prometheus",
        "/metrics",
        "/sys/fs/cgroup",
        512 * 2**20,
    )
    assert (resources.max_memory_ratio, resources.max_cpu_ratio, resources.warn_fraction) == (0.8, 0.7, 0.9)
    specs = {spec.id.check: spec for spec in resolve(settings)}
    assert {name: (spec.severity, spec.area) for name, spec in specs.items()} == {
        "home": (Severity.CRITICAL, Area.COMMUNICATION),
        "reachable": (Severity.CRITICAL, Area.COMMUNICATION),  # header conditions: security only when configured
        "tls": (Severity.DEGRADED, Area.SECURITY),
        "https": (Severity.DEGRADED, Area.SECURITY),
        "latency": (Severity.DEGRADED, Area.PERFORMANCE),
        "resources": (Severity.DEGRADED, Area.PERFORMANCE),
    }


def test_tls_and_https_need_an_https_url(tmp_path: Path) -> None:
    assert problems(tmp_path, "http://api.example/", tls={}) == [
        "components.web.checks.tls: a tls check needs an https:// url (the component's is http://)"
    ]
    assert problems(tmp_path, "http://api.example/", redirect={"kind": "https"}) == [
        "components.web.checks.redirect: a https check needs an https:// url (the component's is http://)"
    ]
    assert problems(tmp_path, "https://api.example/", https={"http_url": "https://api.example/"}) == [
        "components.web.checks.https.http_url: must be a plain http:// URL with a host (the one that should redirect "
        "to https)"
    ]


def test_timeouts_must_cover_the_requests(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "https://api.example/",
        tls={"handshake_timeout": "5s"},
        https={"request_timeout": "3s"},
        resources={"cpu_limit": 1, "request_timeout": "5s"},
    )
    assert found == [
        "components.web.checks.tls.timeout: 5s must be longer than handshake_timeout (5s)",
        "components.web.checks.https.timeout: 5s must be longer than two requests of request_timeout (6s)",
        "components.web.checks.resources.timeout: 5s must be longer than request_timeout (5s)",
    ]
