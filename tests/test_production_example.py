"""examples/production.yaml loads as it is (its secrets pointed at files written here, through VIGIL_* variables)
and covers what it promises: every area, every kind of the readiness suite, the TCP dependencies, secrets masked."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.config.fields import Area, Severity
from app.config.settings import load_settings
from app.config.specs import resolve

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "production.yaml"
SECRETS = {
    "VIGIL_COMPONENTS__CACHE__PASSWORD_FILE": "redis-password-value",
    "VIGIL_COMPONENTS__ANALYTICS__PASSWORD_FILE": "clickhouse-password-value",
    "VIGIL_COMPONENTS__API__CHECKS__AUTH__TOKEN__CLIENT_SECRET_FILE": "api-client-secret-value",
}


@pytest.fixture
def secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for variable, value in SECRETS.items():
        path = tmp_path / variable.lower()
        path.write_text(value + "\n")
        monkeypatch.setenv(variable, str(path))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    pem = tmp_path / "operators.pem"
    pem.write_bytes(key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    monkeypatch.setenv("VIGIL_AUTH__KEY_FILE", str(pem))
    return SECRETS


def test_the_production_example_loads_and_covers_every_area(secrets: dict[str, str]) -> None:
    settings = load_settings(EXAMPLE)
    specs = {str(spec.id): spec for spec in resolve(settings, one_shot=True)}
    assert {spec.area for spec in specs.values()} == set(Area)
    kinds = {(spec.type.name, spec.kind.name) for spec in specs.values()}
    assert {
        ("redis", "connectivity"),
        ("clickhouse", "connectivity"),
        ("clickhouse", "query_performance"),
        ("http", "reachable"),
        ("http", "cors"),
        ("http", "jwt"),
        ("http", "websocket"),
        ("http", "tls"),
        ("http", "https"),
        ("http", "latency"),
        ("http", "resources"),
        ("tcp", "connect"),
        ("tcp", "tls"),
    } <= kinds
    areas = {name: spec.area for name, spec in specs.items()}
    assert areas["cache:connectivity"] is Area.REDIS
    assert areas["analytics:connectivity"] is Area.DATABASE
    assert [areas[f"api:{name}"] for name in ("security_headers", "tls", "https")] == [Area.SECURITY] * 3
    assert [areas[name] for name in ("api:latency", "api:resources", "billing:resources")] == [Area.PERFORMANCE] * 3
    assert [areas[name] for name in ("api:cors", "api:socket", "billing:health", "payments_db:connect")] == [
        Area.COMMUNICATION
    ] * 4
    assert areas["broker:tls"] is Area.SECURITY
    severity = {name: spec.severity for name, spec in specs.items()}
    assert severity["api:health"] is Severity.CRITICAL and severity["broker:connect"] is Severity.CRITICAL
    assert {severity[name] for name in ("api:tls", "api:https", "api:latency", "api:resources")} == {Severity.DEGRADED}
    # A dependency that uses the defaults where it can: the TCP broker over TLS, its certificate warned 30 days out.
    broker = settings.components["broker"]
    assert (broker.tls, broker.connect_timeout, broker.checks["tls"].warn_before) == (True, 1.0, 30 * 86400)
    assert settings.components["api"].depends_on == ["cache", "analytics"]
    # Every secret came from its file and is masked wherever the configuration is shown.
    assert set(secrets.values()) <= set(settings.secret_values())
    shown = str(settings.redacted())
    assert not any(value in shown for value in secrets.values())
