"""The Helm chart, rendered by the real Helm engine (helm-python-sdk) and validated against the Kubernetes schemas.

Default values (plus the one component they need) and every optional feature switched on, in both modes
(Deployment, sharded StatefulSet); the prometheus-operator resources against their CRDs' required fields; the
rendered config through Vigil's own validation; values.schema.json enforced by the Helm engine itself; and the
chart's refusals (no components, a startup budget the checks cannot fit) as sentences.
"""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import helm_python
import jsonschema
import kubernetes_validate
import pytest
import yaml
from helm_python import _native

from app.api.auth import Verifier
from app.config.settings import Settings
from app.config.specs import resolve
from app.engine.scheduler import FIRST_RUN_SPREAD
from app.model import CheckId
from app.units import parse_duration

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "helm" / "vigil"
RULES = ROOT / "examples" / "prometheus-rules.yml"
DASHBOARD = ROOT / "examples" / "grafana-dashboard.json"
# The chart's default values need one component; this file is the smallest install (and chart-testing's ci/ values).
CHART_YAML: dict[str, Any] = yaml.safe_load((CHART / "Chart.yaml").read_text())
MINIMAL: dict[str, Any] = yaml.safe_load((CHART / "ci" / "default-values.yaml").read_text())

VALUES: dict[str, Any] = {
    "secretFiles": ["redis"],
    "secretEnv": {"VIGIL_AUTH__KEY": {"name": "vigil-jwt", "key": "key"}},
    "serviceMonitor": {"enabled": True},
    "config": {
        "auth": {"algorithms": ["HS256"], "audience": "vigil", "issuer": "https://issuer"},
        "components": {"cache": {"type": "redis", "url": "redis://redis:6379/0"}},
    },
}
DIGEST = "sha256:" + "0123456789abcdef" * 4
# Every optional feature on, with the knobs a platform team would turn.
EVERYTHING: dict[str, Any] = {
    **VALUES,
    "config": {
        **VALUES["config"],
        "server": {"show_details": "when_authorized"},
        "components": {
            "cache": {"type": "redis", "url": "redis://redis:6379/0", "checks": {"connectivity": {}, "memory": {}}},
            "edge": {
                "type": "tcp",
                "host": "edge",
                "port": 443,
                "tls": True,
                "checks": {"cert": {"kind": "tls", "interval": "1h"}},
            },
        },
    },
    "nameOverride": "health",
    "fullnameOverride": "platform-vigil",
    "image": {"repository": "registry.example/vigil", "digest": DIGEST, "pullPolicy": "Always"},
    "imagePullSecrets": [{"name": "regcred"}],
    "serviceAccount": {"create": True, "name": "vigil-sa", "annotations": {"example.com/role": "observer"}},
    "service": {"type": "NodePort", "port": 80, "nodePort": 30080, "annotations": {"example.com/scrape": "yes"}},
    "ingress": {
        "enabled": True,
        "className": "nginx",
        "annotations": {"cert-manager.io/cluster-issuer": "internal"},
        "hosts": ["vigil.example.com"],
        "tls": [{"hosts": ["vigil.example.com"], "secretName": "vigil-tls"}],
    },
    "extraEnv": [{"name": "TZ", "value": "UTC"}],
    "extraVolumes": [{"name": "ca", "configMap": {"name": "internal-ca"}}],
    "extraVolumeMounts": [{"name": "ca", "mountPath": "/etc/vigil-ca", "readOnly": True}],
    "probes": {
        "liveness": {"periodSeconds": 20, "timeoutSeconds": 3, "failureThreshold": 5},
        "readiness": {"periodSeconds": 5, "timeoutSeconds": 1, "failureThreshold": 2, "successThreshold": 2},
        "startup": {"periodSeconds": 5, "timeoutSeconds": 2, "failureThreshold": 30, "processStartSeconds": 60},
    },
    "podLabels": {"team": "platform"},
    "podAnnotations": {"team": "platform"},
    "priorityClassName": "platform-critical",
    "topologySpreadConstraints": [
        {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway"}
    ],
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ops", "effect": "NoSchedule"}],
    "affinity": {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "topologyKey": "kubernetes.io/hostname",
                        "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "health"}},
                    },
                }
            ]
        }
    },
    "podDisruptionBudget": {"enabled": True, "maxUnavailable": 1},
    "networkPolicy": {
        "enabled": True,
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
        "egress": [
            {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
            {"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"port": 6379, "protocol": "TCP"}]},
        ],
    },
    "serviceMonitor": {"enabled": True, "interval": "30s", "labels": {"release": "prometheus"}},
    "prometheusRule": {"enabled": True, "labels": {"release": "prometheus"}},
    "grafanaDashboard": {"enabled": True, "annotations": {"grafana_folder": "Vigil"}},
}
# Sharded: every option but the Ingress (one shard's page cannot show every check).
SHARDED: dict[str, Any] = {
    **{key: value for key, value in EVERYTHING.items() if key != "ingress"},
    "sharding": {"enabled": True, "shards": 3},
}

# The parts of prometheus-operator's CRDs (monitoring.coreos.com/v1, operator 0.8x) these manifests use: the
# required fields and their types, and no other field (the API server would silently prune an unknown one).
DURATION = {
    "type": "string",
    "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$",
}
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string", "minLength": 1}, "labels": STRING_MAP},
}
CRD_SCHEMAS: dict[str, dict[str, Any]] = {
    "ServiceMonitor": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "metadata": METADATA,
            "spec": {
                "type": "object",
                "required": ["selector"],
                "additionalProperties": False,
                "properties": {
                    "selector": {
                        "type": "object",
                        "properties": {"matchLabels": STRING_MAP},
                        "additionalProperties": False,
                    },
                    "endpoints": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "port": {"type": "string"},
                                "path": {"type": "string"},
                                "interval": DURATION,
                            },
                        },
                    },
                },
            },
        },
    },
    "PrometheusRule": {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"},
            "metadata": METADATA,
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "groups": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["name"],
                            "additionalProperties": False,
                            "properties": {
                                "name": {"type": "string", "minLength": 1},
                                "interval": DURATION,
                                "rules": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["expr"],
                                        "oneOf": [{"required": ["record"]}, {"required": ["alert"]}],
                                        "additionalProperties": False,
                                        "properties": {
                                            "record": {"type": "string"},
                                            "alert": {"type": "string"},
                                            "expr": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
                                            "for": DURATION,
                                            "labels": STRING_MAP,
                                            "annotations": STRING_MAP,
                                        },
                                    },
                                },
                            },
                        },
                    }
                },
            },
        },
    },
}


def render(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rendered = helm_python.Chart.load(str(CHART)).render(values, name="prod", namespace="ops")
    manifests = {}
    for path, text in rendered.items():
        if path.endswith("NOTES.txt"):
            continue
        for document in yaml.safe_load_all(text):
            if document:
                manifests[f"{document['kind']}/{path}"] = document
    return manifests


def notes(values: dict[str, Any]) -> str:
    """What `helm install` prints after installing."""
    rendered = helm_python.Chart.load(str(CHART)).render(values, name="prod", namespace="ops")
    return rendered["vigil/templates/NOTES.txt"]


def kind(manifests: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    return next(m for m in manifests.values() if m["kind"] == name)


def validate(manifest: dict[str, Any]) -> None:
    if manifest["kind"] in CRD_SCHEMAS:
        jsonschema.validate(manifest, CRD_SCHEMAS[manifest["kind"]])
    else:
        kubernetes_validate.validate(manifest, kubernetes_validate.latest_version(), strict=True)


def test_chart_lints_clean() -> None:
    for values in (MINIMAL, EVERYTHING, SHARDED):
        report = helm_python.lint(str(CHART), values, strict=True)
        assert report["errors"] == []
        assert all(m["severity"] < 2 for m in report["messages"]), report["messages"]  # info only (icon)


def test_default_values_render_a_plain_deployment() -> None:
    manifests = render(MINIMAL)
    assert sorted(m["kind"] for m in manifests.values()) == ["ConfigMap", "Deployment", "Service", "ServiceAccount"]
    for manifest in manifests.values():
        validate(manifest)
    pod = kind(manifests, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "prod-vigil"
    assert pod["containers"][0]["image"] == f"vigil:{CHART_YAML['appVersion']}"  # the chart's appVersion
    config = yaml.safe_load(kind(manifests, "ConfigMap")["data"]["vigil.yaml"])
    assert config["server"]["show_details"] == "always"  # no auth by default: when_authorized would hide everything


def test_default_values_without_components_refuse_to_render() -> None:
    """No components, no chart: a sentence, not a template error, and not a Vigil that is READY for nothing."""
    with pytest.raises(helm_python.HelmRenderError, match="config.components is empty: Vigil has no checks to run"):
        render({})
    with pytest.raises(helm_python.HelmRenderError, match=r"config.components.cache: a component needs a `type`"):
        render({"config": {"components": {"cache": {"url": "redis://redis:6379/0"}}}})


@pytest.mark.parametrize("values", [VALUES, EVERYTHING, SHARDED], ids=["values", "everything", "sharded"])
def test_rendered_manifests_are_valid_kubernetes(values: dict[str, Any]) -> None:
    manifests = render(values)
    for manifest in manifests.values():
        validate(manifest)


def test_every_optional_feature_renders() -> None:
    kinds = sorted(m["kind"] for m in render(EVERYTHING).values())
    assert kinds == [
        "ConfigMap",
        "ConfigMap",
        "Deployment",
        "Ingress",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "PrometheusRule",
        "Service",
        "ServiceAccount",
        "ServiceMonitor",
    ]
    kinds = sorted(m["kind"] for m in render(SHARDED).values())
    assert "StatefulSet" in kinds and "Deployment" not in kinds and "Ingress" not in kinds


def test_crd_schemas_catch_a_broken_resource() -> None:
    """The CRD checks are not vacuous: a rule without expr, a group without name, an unknown field all fail."""
    rule = kind(render(EVERYTHING), "PrometheusRule")
    for breakage in (
        lambda r: r["spec"]["groups"][0]["rules"][0].pop("expr"),
        lambda r: r["spec"]["groups"][1].pop("name"),
        lambda r: r["spec"]["groups"][2]["rules"][0].update({"for": "two minutes"}),
        lambda r: r["spec"]["groups"][2]["rules"][0].update({"severity": "page"}),
    ):
        broken = copy.deepcopy(rule)
        breakage(broken)
        with pytest.raises(jsonschema.ValidationError):
            validate(broken)


def test_probes_point_at_vigils_own_endpoints() -> None:
    deployment = kind(render(VALUES), "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert container["startupProbe"]["httpGet"]["path"] == "/startupz"
    # Vigil stays in its Service while its targets are down: readiness is its own startup, not /readyz.
    assert container["readinessProbe"]["httpGet"]["path"] == "/startupz"
    assert container["env"] == [
        {"name": "VIGIL_AUTH__KEY", "valueFrom": {"secretKeyRef": {"name": "vigil-jwt", "key": "key"}}}
    ]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert deployment["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def test_rendered_config_is_valid_vigil_config(monkeypatch: pytest.MonkeyPatch) -> None:
    configmap = kind(render(VALUES), "ConfigMap")
    data = yaml.safe_load(configmap["data"]["vigil.yaml"])
    monkeypatch.setenv("VIGIL_AUTH__KEY", "from-the-secret-" + "x" * 32)  # what secretEnv provides in the pod
    settings = Settings(**data)
    assert [spec.id for spec in resolve(settings)] == [("cache", "connectivity")]
    assert settings.defaults.interval == 15.0


@pytest.mark.parametrize("values", [VALUES, SHARDED], ids=["deployment", "sharded"])
def test_config_reload_rolls_the_pods_or_reloads_in_place(
    values: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """configReload roll (the default): the pods carry the config's checksum, so a change rolls them. inPlace: no
    checksum, and the rendered config turns on Vigil's file watch (keeping an interval the values set)."""
    workload = "StatefulSet" if values is SHARDED else "Deployment"
    rolled = render(values)
    annotations = kind(rolled, workload)["spec"]["template"]["metadata"]["annotations"]
    assert "checksum/config" in annotations
    assert "reload" not in yaml.safe_load(kind(rolled, "ConfigMap")["data"]["vigil.yaml"])
    changed = render({**values, "config": {**values["config"], "defaults": {"interval": "30s"}}})
    assert (
        kind(changed, workload)["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
        != (annotations["checksum/config"])
    )

    in_place = {**values, "configReload": "inPlace", "config": {**values["config"], "reload": {"interval": "10s"}}}
    manifests = render(in_place)
    for manifest in manifests.values():
        validate(manifest)
    template = kind(manifests, workload)["spec"]["template"]
    assert "checksum/config" not in template["metadata"].get("annotations", {})
    data = yaml.safe_load(kind(manifests, "ConfigMap")["data"]["vigil.yaml"])
    assert data["reload"] == {"watch": True, "interval": "10s"}
    monkeypatch.setenv("VIGIL_AUTH__KEY", "from-the-secret-" + "x" * 32)
    settings = Settings(**data)
    assert settings.reload.watch and settings.reload.interval == 10.0
    mounts = template["spec"]["containers"][0]["volumeMounts"]
    # The whole directory, not a subPath: only then does the kubelet swap the file in place.
    assert {"name": "config", "mountPath": "/etc/vigil", "readOnly": True} in mounts
    with pytest.raises(helm_python.HelmValuesError, match="configReload"):
        render({**values, "configReload": "sometimes"})


def pod_environment(container: dict[str, Any], ordinal: int) -> dict[str, str]:
    """The container's environment as the kubelet would build it for the pod with this ordinal."""
    env = {}
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
        elif var["valueFrom"].get("fieldRef", {}).get("fieldPath") == "metadata.labels['apps.kubernetes.io/pod-index']":
            env[var["name"]] = str(ordinal)
        else:
            env[var["name"]] = "from-the-secret-" + "x" * 32
    return env


def test_sharded_statefulset_splits_the_rendered_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each pod's environment (shard count from the values, index from the downward API) through Vigil's own
    settings: the three shards together run every configured check exactly once."""
    checks = {f"c{i}": {"kind": "reachable", "path": f"/{i}"} for i in range(30)}
    values = {
        **SHARDED,
        "config": {
            **SHARDED["config"],
            "components": {"api": {"type": "http", "url": "http://api:8080", "checks": checks}},
        },
    }
    manifests = render(values)
    statefulset = kind(manifests, "StatefulSet")
    assert statefulset["spec"]["replicas"] == 3
    assert statefulset["spec"]["podManagementPolicy"] == "Parallel"
    assert statefulset["spec"]["serviceName"] == kind(manifests, "Service")["metadata"]["name"]
    assert kind(manifests, "Service")["spec"]["clusterIP"] == "None"
    container = statefulset["spec"]["template"]["spec"]["containers"][0]
    data = yaml.safe_load(kind(manifests, "ConfigMap")["data"]["vigil.yaml"])
    owners: dict[CheckId, list[int]] = {}
    for ordinal in range(3):
        with monkeypatch.context() as patch:
            for name, value in pod_environment(container, ordinal).items():
                patch.setenv(name, value)
            settings = Settings(**data)
        assert (settings.shard.index, settings.shard.count) == (ordinal, 3)
        ids = [spec.id for spec in resolve(settings)]
        assert ids, f"shard {ordinal} got no checks out of 30"
        for check_id in ids:
            owners.setdefault(check_id, []).append(ordinal)
    assert len(owners) == 30
    assert all(len(shards) == 1 for shards in owners.values()), owners


def render_for(kube_version: str, values: dict[str, Any]) -> dict[str, str]:
    """Render as `helm install` would against a cluster of this version. helm-python-sdk's Chart.render does not
    expose the option its native layer takes (kube_version), and lint mode only logs a template's `fail`."""
    chart = helm_python.Chart.load(str(CHART))
    options = {"name": "prod", "namespace": "ops", "kube_version": kube_version}
    rendered = _native.call_string("helm_render", chart._raw(), json.dumps(values), json.dumps(options))
    return dict(json.loads(rendered))


def test_sharding_refuses_clusters_without_the_pod_index_label() -> None:
    with pytest.raises(helm_python.HelmRenderError, match="sharding.enabled needs Kubernetes >= 1.28"):
        render_for("v1.27.9", SHARDED)
    assert "apps.kubernetes.io/pod-index" in render_for("v1.28.0", SHARDED)["vigil/templates/statefulset.yaml"]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"replicaCount": "three"}, "at '/replicaCount': got string, want integer"),
        ({"port": 70000}, "/port"),
        ({"sharding": {"enabled": "yes"}}, "/sharding/enabled"),
        ({"secretFiles": "redis"}, "/secretFiles"),
        ({"prometheusRule": {"slo": {"objective": 99.5, "window": "30d"}}}, "/prometheusRule/slo/objective"),
        ({"prometheusRule": {"slo": {"objective": 0.99, "window": "a month"}}}, "/prometheusRule/slo/window"),
        ({"replicas": 3}, "additional properties 'replicas' not allowed"),
    ],
)
def test_values_schema_is_enforced_by_the_helm_engine(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm_python.HelmValuesError, match="values don't meet the specifications") as caught:
        helm_python.Chart.load(str(CHART)).render(values, name="prod", namespace="ops")
    assert message in str(caught.value)


def test_prometheus_rule_is_the_example_rules_file() -> None:
    """With the default values the chart's PrometheusRule is examples/prometheus-rules.yml, rule for rule."""
    rule = kind(render(EVERYTHING), "PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "prometheus"
    # Vigil's targets get the Service's name as their job (the ServiceMonitor's default) instead of "vigil".
    example = RULES.read_text().replace('job="vigil"', 'job="platform-vigil"')
    assert rule["spec"]["groups"] == yaml.safe_load(example)["groups"]


def test_prometheus_rule_takes_the_objective_and_windows_from_the_values(tmp_path: Path) -> None:
    values = {
        **MINIMAL,
        "prometheusRule": {
            "enabled": True,
            "slo": {"objective": 0.999, "window": "28d"},
            "burnRates": {
                "fast": {"factor": 14.4, "longWindow": "2h", "shortWindow": "10m"},
                "slow": {"factor": 6, "longWindow": "6h", "shortWindow": "30m"},
            },
        },
    }
    groups = kind(render(values), "PrometheusRule")["spec"]["groups"]
    rules = {r.get("record") or r["alert"]: r for group in groups for r in group["rules"]}
    # The dashboard's four windows stay recorded; the alerts' own windows are added.
    assert [name for name in rules if name.startswith("vigil:check_error_ratio:rate")] == [
        f"vigil:check_error_ratio:rate{w}" for w in ("5m", "30m", "1h", "6h", "10m", "2h")
    ]
    assert rules["vigil:check_slo_objective:ratio"]["expr"].endswith("* 0.999")
    assert rules["vigil:check_error_ratio:slo_window"]["expr"] == "avg_over_time(vigil:check_error_ratio:rate5m[28d])"
    fast = rules["VigilSLOFastBurn"]
    assert "vigil:check_error_ratio:rate2h > (14.4 * 0.001)" in fast["expr"]
    assert "vigil:check_error_ratio:rate10m > (14.4 * 0.001)" in fast["expr"]
    assert "99.9% SLO budget 14.4x" in fast["annotations"]["summary"]
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump({"groups": groups}))
    done = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr


def test_dashboard_configmap_is_the_example_dashboard() -> None:
    configmap = next(m for key, m in render(EVERYTHING).items() if key.endswith("dashboard.yaml"))
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["metadata"]["annotations"] == {"grafana_folder": "Vigil"}
    # The example itself, but for the `Vigil page` link target: the Ingress's address instead of a port-forward.
    example = DASHBOARD.read_text().replace('"http://localhost:8080"', '"https://vigil.example.com"')
    assert json.loads(configmap["data"]["vigil.json"]) == json.loads(example)
    variable = next(v for v in json.loads(example)["templating"]["list"] if v["name"] == "vigil_url")
    assert variable["query"] == variable["current"]["value"] == "https://vigil.example.com"
    plain = {**MINIMAL, "grafanaDashboard": {"enabled": True}}
    configmap = next(m for key, m in render(plain).items() if key.endswith("dashboard.yaml"))
    assert json.loads(configmap["data"]["vigil.json"]) == json.loads(DASHBOARD.read_text())
    chosen = {**plain, "grafanaDashboard": {"enabled": True, "vigilUrl": "http://vigil.ops.internal:8080"}}
    configmap = next(m for key, m in render(chosen).items() if key.endswith("dashboard.yaml"))
    assert '"query": "http://vigil.ops.internal:8080"' in configmap["data"]["vigil.json"]
    # The chart carries its own copy (Helm reads files inside the chart only): they must not drift apart.
    assert (CHART / "dashboards" / "vigil.json").read_bytes() == DASHBOARD.read_bytes()


def test_network_policy_opens_only_the_http_port() -> None:
    policy = kind(render(EVERYTHING), "NetworkPolicy")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert policy["ingress"] == [
        {
            "ports": [{"port": "http", "protocol": "TCP"}],
            "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
        }
    ]
    open_egress = kind(render({**MINIMAL, "networkPolicy": {"enabled": True}}), "NetworkPolicy")["spec"]
    assert open_egress["policyTypes"] == ["Ingress"]
    assert open_egress["ingress"] == [{"ports": [{"port": "http", "protocol": "TCP"}]}]


def test_pod_disruption_budget_never_blocks_a_single_replica_drain() -> None:
    budget = kind(render(EVERYTHING), "PodDisruptionBudget")["spec"]
    assert budget == {
        "maxUnavailable": 1,
        "selector": {"matchLabels": {"app.kubernetes.io/name": "health", "app.kubernetes.io/instance": "prod"}},
    }


def test_every_option_reaches_the_manifests() -> None:
    manifests = render(EVERYTHING)
    deployment = kind(manifests, "Deployment")
    assert deployment["metadata"]["name"] == "platform-vigil"  # fullnameOverride
    assert deployment["metadata"]["labels"] == {
        "helm.sh/chart": f"vigil-{CHART_YAML['version']}",
        "app.kubernetes.io/name": "health",  # nameOverride
        "app.kubernetes.io/instance": "prod",
        "app.kubernetes.io/version": CHART_YAML["appVersion"],
        "app.kubernetes.io/component": "health-checker",
        "app.kubernetes.io/managed-by": "Helm",
    }
    for manifest in manifests.values():
        assert manifest["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm", manifest["kind"]
    template = deployment["spec"]["template"]
    assert template["metadata"]["labels"]["team"] == "platform"
    assert template["metadata"]["annotations"]["team"] == "platform"
    pod = template["spec"]
    assert pod["serviceAccountName"] == "vigil-sa"
    account = kind(manifests, "ServiceAccount")
    assert account["metadata"]["name"] == "vigil-sa"
    assert account["metadata"]["annotations"] == {"example.com/role": "observer"}
    assert account["automountServiceAccountToken"] is False
    assert pod["priorityClassName"] == "platform-critical"
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["topologySpreadConstraints"] == [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": deployment["spec"]["selector"]["matchLabels"]},
        }
    ]
    container = pod["containers"][0]
    assert container["image"] == f"registry.example/vigil@{DIGEST}"
    assert container["imagePullPolicy"] == "Always"
    assert container["env"] == [
        {"name": "VIGIL_AUTH__KEY", "valueFrom": {"secretKeyRef": {"name": "vigil-jwt", "key": "key"}}},
        {"name": "TZ", "value": "UTC"},
    ]
    assert {"name": "ca", "mountPath": "/etc/vigil-ca", "readOnly": True} in container["volumeMounts"]
    assert {"name": "ca", "configMap": {"name": "internal-ca"}} in pod["volumes"]
    probe = {key: value for key, value in container["livenessProbe"].items() if key != "httpGet"}
    assert probe == {"periodSeconds": 20, "timeoutSeconds": 3, "failureThreshold": 5}
    probe = {key: value for key, value in container["readinessProbe"].items() if key != "httpGet"}
    assert probe == {"periodSeconds": 5, "timeoutSeconds": 1, "failureThreshold": 2, "successThreshold": 2}
    probe = {key: value for key, value in container["startupProbe"].items() if key != "httpGet"}
    assert probe == {"periodSeconds": 5, "timeoutSeconds": 2, "failureThreshold": 30}
    service = kind(manifests, "Service")
    assert service["spec"]["type"] == "NodePort"
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP", "nodePort": 30080}
    ]
    ingress = kind(manifests, "Ingress")["spec"]
    assert ingress["ingressClassName"] == "nginx"
    assert ingress["tls"] == [{"hosts": ["vigil.example.com"], "secretName": "vigil-tls"}]
    backend = ingress["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "platform-vigil", "port": {"name": "http"}}


def test_an_existing_service_account_is_used_not_created() -> None:
    manifests = render({**MINIMAL, "serviceAccount": {"create": False, "name": "observer"}})
    assert "ServiceAccount" not in {m["kind"] for m in manifests.values()}
    assert kind(manifests, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"] == "observer"


def test_the_statefulset_pod_is_the_deployments_plus_the_shard() -> None:
    """The pod spec is written out in both files, for reading; they must not drift apart."""
    deployment = kind(render(EVERYTHING), "Deployment")["spec"]["template"]
    statefulset = kind(render(SHARDED), "StatefulSet")["spec"]["template"]
    shard_env = statefulset["spec"]["containers"][0]["env"][:2]
    assert [var["name"] for var in shard_env] == ["VIGIL_SHARD__COUNT", "VIGIL_SHARD__INDEX"]
    del statefulset["spec"]["containers"][0]["env"][:2]
    assert statefulset == deployment


def test_ingress_needs_a_host_and_one_page() -> None:
    with pytest.raises(helm_python.HelmRenderError, match=r"list at least one host in ingress.hosts"):
        render({**MINIMAL, "ingress": {"enabled": True}})
    with pytest.raises(helm_python.HelmRenderError, match="each shard's page shows only its own checks"):
        render({**SHARDED, "ingress": EVERYTHING["ingress"]})


def startup_probe(values: dict[str, Any]) -> dict[str, Any]:
    probe: dict[str, Any] = kind(render(values), "Deployment")["spec"]["template"]["spec"]["containers"][0][
        "startupProbe"
    ]
    return probe


def with_checks(defaults: dict[str, Any], **checks: dict[str, Any]) -> dict[str, Any]:
    component = {"type": "http", "url": "https://api.example", "checks": checks} if checks else MINIMAL_COMPONENT
    return {"config": {"defaults": defaults, "components": {"api": component}}}


MINIMAL_COMPONENT: dict[str, Any] = {"type": "redis", "url": "redis://redis:6379/0"}
# Vigil starts each check's first run within its initial_delay + FIRST_RUN_SPREAD, whatever its interval; the chart
# adds probes.startup.processStartSeconds (60 s by default) for the process itself.
SPREAD, PROCESS = math.ceil(FIRST_RUN_SPREAD), 60


@pytest.mark.parametrize("interval", ["15s", "1h", "24h"])
def test_startup_budget_follows_timeouts_not_intervals(interval: str) -> None:
    """The derived budget covers the longest initial_delay + timeout (+ spread and process start), and a check at
    a 1 h or 24 h interval needs no more than one at 15 s."""
    plain = startup_probe(with_checks({"interval": interval}))
    assert plain["periodSeconds"] * plain["failureThreshold"] >= 5 + SPREAD + PROCESS  # Vigil's default timeout
    assert plain["failureThreshold"] == math.ceil((5 + SPREAD + PROCESS) / 2)
    slow = with_checks(
        {"interval": interval, "timeout": "4s"},
        tls={"kind": "tls", "interval": "24h", "timeout": "30s", "initial_delay": "1m"},
        ok={"kind": "reachable", "path": "/"},
    )
    probe = startup_probe(slow)
    assert probe["periodSeconds"] * probe["failureThreshold"] >= 30 + 60 + SPREAD + PROCESS
    assert probe["failureThreshold"] == math.ceil((30 + 60 + SPREAD + PROCESS) / 2)


@pytest.mark.parametrize("timeout", ["800ms", "1.5s", "7s", "2m", 9, 0.25, "3 s"])
def test_the_chart_reads_durations_as_vigil_does(timeout: str | float) -> None:
    probe = startup_probe({**with_checks({"timeout": timeout}), "probes": {"startup": {"periodSeconds": 1}}})
    assert probe["failureThreshold"] == math.ceil(parse_duration(timeout)) + SPREAD + PROCESS


def test_a_startup_budget_the_checks_cannot_fit_refuses_to_render() -> None:
    values = with_checks({}, cert={"kind": "tls", "interval": "1h", "timeout": "20s"})
    needed = 20 + SPREAD + PROCESS
    enough = {"periodSeconds": 3, "failureThreshold": math.ceil(needed / 3)}
    assert startup_probe({**values, "probes": {"startup": enough}})["failureThreshold"] == enough["failureThreshold"]
    short = {"periodSeconds": 2, "failureThreshold": 20}
    with pytest.raises(helm_python.HelmRenderError) as caught:
        render({**values, "probes": {"startup": short}})
    assert (
        f"probes.startup: periodSeconds x failureThreshold = 40s, but the configured checks may need up to {needed}s"
        in str(caught.value)
    )
    assert f"Set probes.startup.failureThreshold to at least {math.ceil(needed / 2)}" in str(caught.value)
    with pytest.raises(helm_python.HelmRenderError, match=r"config.components.api.checks.cert.timeout: \"soon\""):
        render(with_checks({}, cert={"kind": "tls", "timeout": "soon"}))


def test_redis_alert_only_when_a_redis_memory_check_is_configured() -> None:
    def alerts(components: dict[str, Any]) -> set[str]:
        values = {"config": {"components": components}, "prometheusRule": {"enabled": True}}
        groups = kind(render(values), "PrometheusRule")["spec"]["groups"]
        return {rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule}

    api = {"type": "http", "url": "https://api.example"}
    assert "VigilRedisMemoryPredictLinear" not in alerts({"api": api})
    assert "VigilRedisMemoryPredictLinear" not in alerts({"cache": MINIMAL_COMPONENT})  # connectivity only
    memory = {**MINIMAL_COMPONENT, "checks": {"used": {"kind": "memory"}}}
    assert "VigilRedisMemoryPredictLinear" in alerts({"api": api, "cache": memory})
    assert "VigilCriticalCheckFailing" in alerts({"api": api})


def test_notes_say_how_to_reach_the_page_get_a_token_and_scrape(monkeypatch: pytest.MonkeyPatch) -> None:
    text = notes(MINIMAL)
    assert "kubectl --namespace ops port-forward service/prod-vigil 8080:8080" in text
    assert 'show_details is "always"' in text
    assert "Metrics: http://prod-vigil.ops.svc:8080/metrics" in text
    assert "set serviceMonitor.enabled=true" in text
    assert "the kubelet gives Vigil 76s" in text

    text = notes(EVERYTHING)
    assert "https://vigil.example.com/" in text
    # Alert rules whose runbook links still point at the placeholder say so; a real address silences it.
    assert "WARNING: prometheusRule.runbookURL is still the placeholder" in text
    published = {
        **EVERYTHING,
        "prometheusRule": {**EVERYTHING["prometheusRule"], "runbookURL": "https://docs.acme.io/vigil/alerts/"},
    }
    assert "runbookURL is still the placeholder" not in notes(published)
    assert "kubectl --namespace ops port-forward service/platform-vigil 8080:80" in text
    assert "scraped by the Prometheus that selects ServiceMonitor platform-vigil" in text
    # The mint command the notes print, run as written (the key as secretEnv puts it in the pod), gives a token
    # Vigil's own verifier accepts for a run.
    command = next(line for line in text.splitlines() if "/opt/vigil/bin/python -c" in line)
    assert "exec deployment/platform-vigil" in command
    code = command.split(" -c ", 1)[1].strip()
    assert code.startswith("'") and code.endswith("'")
    key = "k" * 40
    minted = subprocess.run(
        [sys.executable, "-c", code[1:-1]],
        env={"VIGIL_AUTH__KEY": key},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.strip()
    monkeypatch.setenv("VIGIL_AUTH__KEY", key)
    auth = Settings(**EVERYTHING["config"]).auth
    assert Verifier(auth).verify(f"Bearer {minted}", require_scope=True)["aud"] == "vigil"

    sharded = notes(SHARDED)
    assert "kubectl --namespace ops port-forward pod/platform-vigil-0 8080:8080" in sharded
    # Headless: no port mapping, so the address names the container's port, not the Service's.
    assert "http://platform-vigil-<ordinal>.platform-vigil.ops.svc:8080/metrics" in sharded

    no_auth = notes({**MINIMAL, "config": {**MINIMAL["config"], "server": {"show_details": "when_authorized"}}})
    assert "WARNING: no config.auth is set, so nobody can be authorized and every reason stays hidden" in no_auth
    published = notes({**MINIMAL, "ingress": {"enabled": True, "hosts": ["vigil.example.com"]}})
    assert "WARNING: the Ingress publishes them" in published


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"probes": {"startup": {"failureThreshold": 0}}}, "/probes/startup/failureThreshold"),
        ({"probes": {"liveness": {"failureThreshold": "3"}}}, "/probes/liveness/failureThreshold"),
        ({"probes": {"periodSeconds": 10}}, "additional properties 'periodSeconds' not allowed"),
        ({"image": {"repository": "vigil", "digest": "latest"}}, "/image/digest"),
        ({"service": {"type": "ExternalName"}}, "/service/type"),
        ({"ingress": {"tls": [{"secretName": "x"}]}}, "/ingress/tls/0"),
        ({"fullnameOverride": "Not_A_Name"}, "/fullnameOverride"),
        ({"topologySpreadConstraints": [{"maxSkew": 1}]}, "/topologySpreadConstraints/0"),
    ],
)
def test_values_schema_covers_the_new_options(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm_python.HelmValuesError, match="values don't meet the specifications") as caught:
        helm_python.Chart.load(str(CHART)).render({**MINIMAL, **values}, name="prod", namespace="ops")
    assert message in str(caught.value)


def test_every_probe_timing_is_accepted() -> None:
    """Every field of the three probes (failureThreshold was once refused) renders where the kubelet reads it."""
    timings = {"initialDelaySeconds": 1, "periodSeconds": 7, "timeoutSeconds": 3, "failureThreshold": 4}
    values = {
        **MINIMAL,
        "probes": {
            "liveness": {**timings, "successThreshold": 1},
            "readiness": {**timings, "successThreshold": 2},
            "startup": {**timings, "failureThreshold": 20, "processStartSeconds": 5},
        },
    }
    container = kind(render(values), "Deployment")["spec"]["template"]["spec"]["containers"][0]
    assert container["livenessProbe"]["failureThreshold"] == 4
    assert container["readinessProbe"]["successThreshold"] == 2
    assert container["startupProbe"]["initialDelaySeconds"] == 1
    assert container["startupProbe"]["failureThreshold"] == 20
    assert "processStartSeconds" not in container["startupProbe"]


def test_the_charts_readme_names_every_value() -> None:
    """helm/vigil/README.md's table covers every top-level value of values.yaml."""
    readme = (CHART / "README.md").read_text()
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    missing = [key for key in defaults if f"`{key}" not in readme]
    assert not missing, missing
