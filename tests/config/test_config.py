"""Config loading: YAML + environment, durations, defaults, secrets from files, one clear line per problem."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.config.fields import Severity
from app.config.settings import ConfigError, load_settings
from app.config.specs import resolve
from app.masking import Scrubber
from app.units import parse_duration


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "vigil.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False) if not isinstance(data, str) else data)
    return path


@pytest.mark.parametrize(
    ("text", "seconds"), [("500ms", 0.5), ("15s", 15.0), ("2m", 120.0), ("1h", 3600.0), (3, 3.0), ("2.5", 2.5)]
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["fast", "-1s", "10 parsecs", True, None])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_defaults_and_per_check_overrides(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "defaults": {"interval": "20s", "timeout": "4s", "failure_threshold": 2},
            "components": {
                "cache": {"type": "redis", "checks": {"connectivity": {"interval": "1m", "severity": "degraded"}}},
                "api": {"type": "http", "url": "http://127.0.0.1:1/", "checks": {"home": {"kind": "reachable"}}},
            },
        },
    )
    settings = load_settings(path)
    cache = settings.schedule("cache", "connectivity")
    assert (cache.interval, cache.timeout, cache.failure_threshold, cache.severity) == (60.0, 4.0, 2, Severity.DEGRADED)
    api = settings.schedule("api", "home")
    assert (api.interval, api.severity, api.success_threshold) == (20.0, Severity.CRITICAL, 1)
    assert cache.stale_after == 2 * 60 + 4
    assert check_ids(settings) == [("cache", "connectivity"), ("api", "home")]


def test_component_without_checks_gets_its_connectivity_check(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, {"components": {"db": {"type": "clickhouse"}}}))
    assert check_ids(settings) == [("db", "connectivity")]


def test_environment_overrides_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, {"defaults": {"interval": "20s"}, "components": {"cache": {"type": "redis"}}})
    monkeypatch.setenv("VIGIL_DEFAULTS__INTERVAL", "45s")
    monkeypatch.setenv("VIGIL_COMPONENTS__CACHE__PASSWORD", "from-env")
    monkeypatch.setenv("VIGIL_SERVER__PORT", "9100")
    settings = load_settings(path)
    assert settings.defaults.interval == 45.0
    assert settings.server.port == 9100
    assert settings.components["cache"].password.get_secret_value() == "from-env"  # type: ignore[union-attr]


def test_config_from_vigil_config_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_CONFIG", str(write(tmp_path, {"components": {"c": {"type": "redis"}}})))
    assert list(load_settings().components) == ["c"]


def test_secret_from_file_and_redaction(tmp_path: Path) -> None:
    secret_file = tmp_path / "redis-password"
    secret_file.write_text("file-secret-value\n")
    path = write(
        tmp_path,
        {
            "auth": {
                "algorithms": ["HS256"],
                "key": "jwt-key-value-that-is-long-enough-for-hs256",
                "audience": "a",
                "issuer": "i",
            },
            "components": {
                "cache": {"type": "redis", "password_file": str(secret_file)},
                "other": {"type": "redis", "url": "redis://user:url-secret@127.0.0.1:1/0"},
            },
        },
    )
    settings = load_settings(path)
    assert settings.components["cache"].password.get_secret_value() == "file-secret-value"  # type: ignore[union-attr]
    shown = str(settings.redacted())
    for secret in ("file-secret-value", "jwt-key-value-that-is-long-enough-for-hs256", "url-secret"):
        assert secret not in shown
    assert "redis://user:***@127.0.0.1:1/0" in shown
    assert Scrubber(settings.secret_values()).text("x file-secret-value y") == "x *** y"


def test_every_problem_named_by_field_path(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "defaults": {"interval": "often"},
            "server": {"show_details": "sometimes"},
            "components": {
                "cache": {
                    "type": "redis",
                    "url": "http://nope",
                    "bogus": 1,
                    "checks": {"connectivity": {"timeout": "fast"}},
                },
                "x": {"type": "mongo"},
                "api": {"type": "http"},
                "Bad Name": {"type": "redis"},
            },
        },
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    problems = caught.value.problems
    text = "\n".join(problems)
    for needle in (
        "defaults.interval: expected a duration",
        "server.show_details:",
        "components.cache.url: must be a redis://",
        "components.cache.bogus: unknown field",
        "components.cache.checks.connectivity.timeout: expected a duration",
        "components.x.type: unknown type 'mongo'",
        "components.api.url: Field required",
    ):
        assert needle in text, (needle, text)


def test_deadlines_must_nest(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "components": {
                "cache": {"type": "redis", "checks": {"connectivity": {"interval": "5s", "timeout": "10s"}}},
                "slow": {"type": "redis", "socket_timeout": "3s", "checks": {"connectivity": {"timeout": "2s"}}},
            }
        },
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert caught.value.problems == [
        "components.cache.checks.connectivity.timeout: 10s must be shorter than the interval (5s)",
        "components.slow.checks.connectivity.timeout: 2s must be longer than the component's connect/socket timeouts (3s)",
    ]


def test_query_sla_beyond_the_check_timeout_is_refused(tmp_path: Path) -> None:
    checks = {
        "perf": {"kind": "query_performance", "timeout": "4s", "queries": {"q": {"sql": "SELECT 1", "sla": "5s"}}}
    }
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, {"components": {"ch": {"type": "clickhouse", "checks": checks}}}))
    assert caught.value.problems == [
        "components.ch.checks.perf.timeout: 4s is shorter than a query SLA (5s); "
        "raise the check's timeout or give the query its own timeout"
    ]


def test_durations_in_days(tmp_path: Path) -> None:
    assert parse_duration("3d") == 3 * 86400


def test_unknown_check_kind_and_alg_none(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "auth": {"algorithms": ["none"], "key": "k", "audience": "a", "issuer": "i"},
            "components": {"cache": {"type": "redis", "checks": {"latency": {}}}},
        },
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    text = "\n".join(caught.value.problems)
    assert "components.cache.checks.latency.kind: unknown kind 'latency'" in text
    assert "auth.algorithms: unsupported algorithm 'none'" in text


@pytest.mark.parametrize(
    ("content", "expected"),
    [("a: [1, 2\n", "line 2"), ("- just\n- a list\n", "top level must be a mapping")],
)
def test_yaml_errors(tmp_path: Path, content: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_settings(write(tmp_path, content))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No such file"):
        load_settings(tmp_path / "absent.yaml")


def test_missing_secret_file(tmp_path: Path) -> None:
    path = write(tmp_path, {"components": {"cache": {"type": "redis", "password_file": str(tmp_path / "nope")}}})
    with pytest.raises(ConfigError, match=r"components.cache.password_file: cannot read"):
        load_settings(path)


def test_bad_config_never_starts_the_service(tmp_path: Path) -> None:
    path = write(tmp_path, {"components": {"cache": {"type": "redis", "max_connections": 0}}})
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve", "--config", str(path), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "components.cache.max_connections" in done.stderr
    assert "Traceback" not in done.stderr


ROOT = Path(__file__).resolve().parents[2]


def test_example_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "VIGIL_AUTH__KEY", "local-key-long-enough-for-hs256-0123456789"
    )  # what scripts/run-local.sh provides
    settings = load_settings(ROOT / "examples" / "local.yaml")
    kinds = {(settings.components[c].type, settings.check_config(c, k).kind) for c, k in check_ids(settings)}
    assert kinds == {
        ("redis", "connectivity"),
        ("redis", "pool"),
        ("redis", "session_ttl"),
        ("redis", "memory"),
        ("clickhouse", "connectivity"),
        ("clickhouse", "query_performance"),
        ("clickhouse", "timeseries"),
        ("clickhouse", "rollup"),
        ("http", "reachable"),
        ("http", "cors"),
        ("http", "jwt"),
        ("http", "websocket"),
    }


def test_the_documented_configuration_example_is_valid(tmp_path: Path) -> None:
    page = (ROOT / "docs" / "configuration.md").read_text()
    block = re.search(r"```yaml\n(.*?)```", page, re.S)
    assert block is not None
    for name in ("redis", "clickhouse", "api-token"):
        (tmp_path / name).write_text(f"secret-{name}")
    public = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "vigil-jwt.pub").write_bytes(pem)
    settings = load_settings(write(tmp_path, block.group(1).replace("/run/secrets/", f"{tmp_path}/")))
    assert [f"{c}:{k}" for c, k in check_ids(settings)] == [
        "cache:connectivity",
        "analytics:connectivity",
        "api:health",
    ]


def check_ids(settings: Any) -> list[tuple[str, str]]:
    return [spec.id for spec in resolve(settings)]


# -- found by attacking Vigil: each of these was a traceback or a silent merge --------------------------


def test_duplicate_component_or_check_names_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "vigil.yaml"
    path.write_text("components:\n  cache:\n    type: redis\n  cache:\n    type: clickhouse\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert caught.value.problems == [
        f"config file {path}: cache is given twice (lines 2 and 4); each name must be unique"
    ]
    path.write_text("components:\n  cache:\n    type: redis\n    checks:\n      a: {}\n      a: {}\n")
    with pytest.raises(ConfigError, match="a is given twice"):
        load_settings(path)


def test_deeply_nested_yaml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "vigil.yaml"
    for text in (
        "components: " + "[" * 5000 + "]" * 5000 + "\n",
        "a:\n" + "".join(" " * i + "b:\n" for i in range(1, 200)),
    ):
        path.write_text(text)
        with pytest.raises(ConfigError) as caught:
            load_settings(path)
        assert caught.value.problems[0].startswith(f"config file {path}: nested")


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("VIGIL_DEFAULTS", "{bad", "VIGIL_DEFAULTS: not valid JSON"),
        ("VIGIL_AUTH", "{also bad", "VIGIL_AUTH: not valid JSON"),
        ("VIGIL_AUTH__ALGORITHMS", "[RS256", "VIGIL_AUTH__ALGORITHMS: not valid JSON"),
    ],
)
def test_bad_json_in_the_environment_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, problem: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.problems[0].startswith(problem), caught.value.problems


def test_list_fields_take_a_plain_comma_list_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_AUTH__ALGORITHMS", "HS256, HS384")
    monkeypatch.setenv("VIGIL_AUTH__KEY", "k" * 40)
    monkeypatch.setenv("VIGIL_AUTH__AUDIENCE", "vigil")
    monkeypatch.setenv("VIGIL_AUTH__ISSUER", "iss")
    settings = load_settings()
    assert settings.auth is not None and settings.auth.algorithms == ["HS256", "HS384"]
    monkeypatch.setenv("VIGIL_AUTH__ALGORITHMS", "RS256")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.problems == [
        "auth.key: not a PEM public key usable with RS256 (expected -----BEGIN PUBLIC KEY-----)"
    ]


def test_unset_timeouts_fit_the_checks(tmp_path: Path) -> None:
    """`timeout: 1s` (the kubelet's default) and `socket_timeout: 500ms` just work; only explicit contradictions fail."""
    path = write(
        tmp_path,
        {
            "components": {
                "fast": {"type": "redis", "checks": {"connectivity": {"timeout": "1s"}}},
                "tuned": {"type": "redis", "socket_timeout": "500ms", "checks": {"connectivity": {}}},
                "plain": {"type": "redis"},
            }
        },
    )
    settings = load_settings(path)
    fast, tuned, plain = (settings.components[name] for name in ("fast", "tuned", "plain"))
    assert (fast.connect_timeout, fast.socket_timeout, fast.pool_timeout) == (0.5, 0.5, 0.25)
    assert (tuned.socket_timeout, tuned.pool_timeout, tuned.connect_timeout) == (0.5, 0.25, 1.0)
    assert (plain.connect_timeout, plain.socket_timeout, plain.pool_timeout) == (1.0, 1.0, 0.5)  # the defaults fit
    for component, problem in (
        (
            {"type": "redis", "socket_timeout": "500ms", "pool_timeout": "600ms"},
            "components.a: pool_timeout must be shorter than socket_timeout",
        ),
        (
            {"type": "redis", "socket_timeout": "2s", "checks": {"connectivity": {"timeout": "1s"}}},
            "components.a.checks.connectivity.timeout: 1s must be longer than the component's connect/socket timeouts (2s)",
        ),
    ):
        with pytest.raises(ConfigError) as caught:
            load_settings(write(tmp_path, {"components": {"a": component}}))
        assert caught.value.problems == [problem]
