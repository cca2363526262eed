"""The Helm chart, rendered by the real Helm engine (helm-python-sdk) and validated against the Kubernetes schemas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate
import pytest
import yaml

from app.config import Settings
from app.specs import resolve

CHART = Path(__file__).resolve().parent.parent / "helm" / "vigil"
VALUES: dict[str, Any] = {
    "secretFiles": ["redis"],
    "secretEnv": {"VIGIL_AUTH__KEY": {"name": "vigil-jwt", "key": "key"}},
    "serviceMonitor": {"enabled": True},
    "config": {
        "auth": {"algorithms": ["HS256"], "audience": "vigil", "issuer": "https://issuer"},
        "components": {"cache": {"type": "redis", "url": "redis://redis:6379/0"}},
    },
}


def render(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rendered = helm_python.Chart.load(str(CHART)).render(values, name="prod", namespace="ops")
    manifests = {}
    for path, text in rendered.items():
        for document in yaml.safe_load_all(text):
            if document:
                manifests[f"{document['kind']}/{path}"] = document
    return manifests


def test_chart_lints_clean() -> None:
    report = helm_python.lint(str(CHART))
    assert report["errors"] == []
    assert all(m["severity"] < 2 for m in report["messages"]), report["messages"]  # info only (icon)


def test_rendered_manifests_are_valid_kubernetes() -> None:
    manifests = render(VALUES)
    assert {key.split("/")[0] for key in manifests} == {"ConfigMap", "Deployment", "Service", "ServiceMonitor"}
    for manifest in manifests.values():
        if manifest["kind"] == "ServiceMonitor":
            continue  # a CRD: not in the Kubernetes schemas
        kubernetes_validate.validate(manifest, kubernetes_validate.latest_version(), strict=True)


def test_probes_point_at_vigils_own_endpoints() -> None:
    deployment = next(m for m in render(VALUES).values() if m["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["startupProbe"]["httpGet"]["path"] == "/startupz"
    # Vigil stays in its Service while its targets are down: readiness is its own startup, not /readyz.
    assert container["readinessProbe"]["httpGet"]["path"] == "/startupz"
    assert container["env"] == [
        {"name": "VIGIL_AUTH__KEY", "valueFrom": {"secretKeyRef": {"name": "vigil-jwt", "key": "key"}}}
    ]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_rendered_config_is_valid_vigil_config(monkeypatch: pytest.MonkeyPatch) -> None:
    configmap = next(m for m in render(VALUES).values() if m["kind"] == "ConfigMap")
    data = yaml.safe_load(configmap["data"]["vigil.yaml"])
    monkeypatch.setenv("VIGIL_AUTH__KEY", "from-the-secret-" + "k" * 32)  # what secretEnv provides in the pod
    settings = Settings(**data)
    assert [spec.id for spec in resolve(settings)] == [("cache", "connectivity")]
    assert settings.defaults.interval == 15.0
