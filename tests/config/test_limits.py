"""Configs that cannot hang, lie or hide a problem, through the real `vigil` process: alias bombs, files that never
end, durations that never come, names that split lines, empty configs, several problems at once, environment typos.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.test_cli import assert_no_traceback, vigil, write

REDIS = {"type": "redis", "url": "redis://127.0.0.1:1/0"}
# Every command that reads a configuration; a hostile one must stop each of them the same way.
COMMANDS = (["config", "validate"], ["check"], ["serve", "--port", "0"])


def refused(*args: str, extra_env: dict[str, str] | None = None) -> list[str]:
    """Run vigil, expect exit 2 with only `config error` lines and no traceback; the problem lines."""
    result = vigil(*args, extra_env=extra_env, timeout=60)
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    assert_no_traceback(result)
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith("vigil: config error: ") for line in lines), lines
    return [line.removeprefix("vigil: config error: ") for line in lines]


def billion_laughs(levels: int = 10) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels)]
    lines.append(f"components: {{cache: {{type: redis, checks: {{connectivity: {{x: *a{levels - 1}}}}}}}}}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("levels", [9, 10])
def test_alias_bombs_are_refused_at_once(tmp_path: Path, levels: int) -> None:
    text = billion_laughs(levels)
    assert len(text) < 1500
    path = write(tmp_path, text)
    for command in COMMANDS:
        (problem,) = refused(*command, "--config", path)
        assert problem.startswith(f"config file {path}: expands to more than 1,000,000 values through its aliases")


def test_an_alias_inside_itself_is_refused(tmp_path: Path) -> None:
    (problem,) = refused("config", "validate", "--config", write(tmp_path, "a: &a [1, *a]\n"))
    assert problem.endswith("an alias (*name) refers to a node that contains it")


def test_aliases_that_stay_small_still_work(tmp_path: Path) -> None:
    text = "components:\n  a: &redis {type: redis, url: 'redis://127.0.0.1:1/0'}\n  b: *redis\n"
    result = vigil("config", "validate", "--config", write(tmp_path, text))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "configuration ok: 2 components, 2 checks\n"


@pytest.fixture
def hostile_files(tmp_path: Path) -> dict[str, Path]:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # a read blocks until a writer comes: forever
    sparse = tmp_path / "sparse"
    with sparse.open("wb") as file:
        file.truncate(1024**3)  # 1 GiB that takes no disk
    return {"fifo": fifo, "device": Path("/dev/zero"), "sparse": sparse, "directory": tmp_path}


HOSTILE = {
    "fifo": "is a FIFO, not a regular file",
    "device": "is a character device, not a regular file",  # /dev/zero reads until memory runs out
    "sparse": "is 1,073,741,824 bytes, more than the 64.0 KiB Vigil reads",
    "directory": "is a directory, not a regular file",
}


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_secret_files_must_be_small_regular_files(tmp_path: Path, hostile_files: dict[str, Path], kind: str) -> None:
    hostile = hostile_files[kind]
    path = write(
        tmp_path,
        {
            "auth": {"algorithms": ["HS256"], "key_file": str(hostile), "audience": "a", "issuer": "i"},
            "components": {"cache": {**REDIS, "password_file": str(hostile)}},
        },
    )
    for command in COMMANDS:
        assert refused(*command, "--config", path) == [
            f"auth.key_file: {hostile} {HOSTILE[kind]}",
            f"components.cache.password_file: {hostile} {HOSTILE[kind]}",
        ]


def test_a_secret_file_at_the_limit_is_read(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("p" * (64 * 1024))
    path = write(tmp_path, {"components": {"cache": {**REDIS, "password_file": str(secret)}}})
    assert vigil("config", "validate", "--config", path).returncode == 0
    secret.write_text("p" * (64 * 1024 + 1))
    assert refused("config", "validate", "--config", path) == [
        f"components.cache.password_file: {secret} is 65,537 bytes, more than the 64.0 KiB Vigil reads"
    ]


@pytest.mark.parametrize("kind", ["fifo", "device", "directory"])
def test_the_config_file_and_ca_files_must_be_regular_files(
    tmp_path: Path, hostile_files: dict[str, Path], kind: str
) -> None:
    hostile = hostile_files[kind]
    for command in COMMANDS:
        assert refused(*command, "--config", str(hostile)) == [f"config file {hostile}: {HOSTILE[kind]}"]
    web = {"type": "http", "url": "https://127.0.0.1:1/", "tls_ca_file": str(hostile)}
    path = write(tmp_path, {"components": {"web": web}})
    assert refused("config", "validate", "--config", path) == [f"components.web.tls_ca_file: {hostile} {HOSTILE[kind]}"]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (".inf", "a duration must be finite and at most 3650d"),
        (1e14, "a duration must be finite and at most 3650d"),
        ("8d", "8d is longer than 7d, the most an interval, timeout or initial_delay may be"),
    ],
)
def test_intervals_are_finite_and_at_most_a_week(tmp_path: Path, value: Any, problem: str) -> None:
    text = f"components:\n  cache:\n    type: redis\n    checks:\n      connectivity: {{interval: {value}}}\n"
    assert refused("config", "validate", "--config", write(tmp_path, text)) == [
        f"components.cache.checks.connectivity.interval: {problem}"
    ]
    text = f"defaults: {{interval: {value}}}\ncomponents: {{cache: {{type: redis}}}}\n"
    assert refused("config", "validate", "--config", write(tmp_path, text)) == [f"defaults.interval: {problem}"]


def test_a_week_is_accepted(tmp_path: Path) -> None:
    text = "components: {cache: {type: redis, checks: {connectivity: {interval: 7d, timeout: 24h}}}}\n"
    result = vigil("config", "validate", "--config", write(tmp_path, text))
    assert result.returncode == 0, result.stderr


def test_names_match_whole_and_hold_no_double_underscore(tmp_path: Path) -> None:
    text = (
        "components:\n"
        '  "cache\\n": {type: redis}\n'
        "  a__b: {type: redis}\n"
        "  ok:\n"
        "    type: redis\n"
        "    checks:\n"
        '      "connectivity\\n": {kind: connectivity}\n'
        "      c__d: {kind: connectivity}\n"
    )
    problems = refused("config", "validate", "--config", write(tmp_path, text))
    assert problems == [
        r"components.cache\n: name must match ^[a-z0-9][a-z0-9_-]{0,62}$ (it is used in URLs and labels)",
        "components.a__b: name must not contain `__` (it separates levels in VIGIL_* variables)",
        r"components.ok.checks.connectivity\n: name must match ^[a-z0-9][a-z0-9_-]{0,62}$ (it is used in URLs and labels)",
        "components.ok.checks.c__d: name must not contain `__` (it separates levels in VIGIL_* variables)",
    ]


def test_no_checks_is_not_ready(tmp_path: Path) -> None:
    """Without a config (or with one without checks) nothing is ready: every command says so and exits 2."""
    for command in COMMANDS:
        assert refused(*command) == [
            "no checks are configured: Vigil reads its configuration from --config FILE or $VIGIL_CONFIG, "
            "and neither is set"
        ]
    empty = write(tmp_path, {"components": {}})
    for command in COMMANDS:
        assert refused(*command, "--config", empty) == [
            f"no checks are configured: {empty} (from --config) has no components with checks"
        ]
        assert refused(*command, extra_env={"VIGIL_CONFIG": empty}) == [
            f"no checks are configured: {empty} (from $VIGIL_CONFIG) has no components with checks"
        ]
    shown = vigil("config", "show")  # the defaults can still be shown
    assert shown.returncode == 0 and "defaults:" in shown.stdout, shown.stderr


def test_every_problem_of_a_file_at_once(tmp_path: Path) -> None:
    text = (
        "components:\n"
        "  cache: {type: redis, pasword: x}\n"  # a field error
        "  api: {type: http, url: 'http://127.0.0.1:1/', checks: {r: {kind: reachable, timeout: 1m}}}\n"  # deadline
        "  Bad: {type: redis, depends_on: [nowhere]}\n"  # a name and a dependency
    )
    assert refused("config", "validate", "--config", write(tmp_path, text)) == [
        "components.cache.pasword: unknown field; did you mean password?",
        "components.api.checks.r.timeout: 1m must be shorter than the interval (15s)",
        "components.Bad: name must match ^[a-z0-9][a-z0-9_-]{0,62}$ (it is used in URLs and labels)",
        "components.Bad.depends_on: no component named 'nowhere'",
    ]


def test_a_dependency_on_a_component_with_errors_is_not_a_second_problem(tmp_path: Path) -> None:
    text = "components:\n  cache: {type: redis, pasword: x}\n  app: {type: redis, depends_on: [cache]}\n"
    assert refused("config", "validate", "--config", write(tmp_path, text)) == [
        "components.cache.pasword: unknown field; did you mean password?"
    ]


def test_an_unknown_field_far_from_any_lists_the_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path, {"shard": {"zzz": 1}, "components": {"cache": REDIS}})
    assert refused("config", "validate", "--config", path) == [
        "shard.zzz: unknown field; the fields here are index, count"
    ]


@pytest.mark.parametrize(
    ("variable", "problem"),
    [
        ("VIGIL_DEFAULT__INTERVAL", "sets no setting; did you mean VIGIL_DEFAULTS__INTERVAL?"),
        ("VIGIL_DEFAULTS__INTERVALL", "sets no setting; did you mean VIGIL_DEFAULTS__INTERVAL?"),
        ("VIGIL_COMPONENTS__CACHE__PASWORD", "sets no setting; did you mean VIGIL_COMPONENTS__CACHE__PASSWORD?"),
        (
            "VIGIL_COMPONENTS__CAHCE__PASSWORD",
            "no component named 'cahce' in the configuration; did you mean VIGIL_COMPONENTS__CACHE__PASSWORD?",
        ),
        (
            "VIGIL_COMPONENTS__CACHE__CHECKS__CONNECTIVITY__TIMOUT",
            "sets no setting; did you mean VIGIL_COMPONENTS__CACHE__CHECKS__CONNECTIVITY__TIMEOUT?",
        ),
        ("VIGIL_XYZZY", "sets no setting"),
    ],
)
def test_environment_typos_are_errors(tmp_path: Path, variable: str, problem: str) -> None:
    path = write(tmp_path, {"components": {"cache": REDIS}})
    assert refused("config", "validate", "--config", path, extra_env={variable: "30s"}) == [f"{variable}: {problem}"]


def test_environment_variables_that_set_something_are_fine(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret")
    path = write(tmp_path, {"components": {"cache": REDIS}})
    result = vigil(
        "config",
        "show",
        "--config",
        path,
        extra_env={
            "VIGIL_DEFAULTS__INTERVAL": "30s",
            "VIGIL_COMPONENTS__CACHE__PASSWORD_FILE": str(secret),
            "VIGIL_COMPONENTS__CACHE__CHECKS__CONNECTIVITY__TIMEOUT": "2s",
            "VIGIL_COMPONENTS__QUEUE__TYPE": "redis",  # a component wholly from the environment
            "VIGIL_COMPONENTS__QUEUE__URL": "redis://127.0.0.1:2/0",
            "VIGIL_SHARD__COUNT": "1",
            "VIGIL_PORT": "9999",  # scripts' own variables are not settings
            "VIGIL_RUN_DIR": str(tmp_path),
            "VIGIL_SKIP_IMAGE": "1",
            "VIGIL_JWT_KEY": "k",
        },
    )
    assert result.returncode == 0, result.stderr
    assert "queue:" in result.stdout and "interval: 30.0" in result.stdout


def test_unset_inner_timeouts_fit_the_check(tmp_path: Path) -> None:
    """`timeout: 3s` on an https check (two requests) and `1s` on tls, websocket and jwt checks just work."""
    checks = {
        "https": {"timeout": "3s"},
        "tls": {"timeout": "1s"},
        "ws": {"kind": "websocket", "path": "/ws", "timeout": "1s"},
        "auth": {
            "kind": "jwt",
            "timeout": "1s",
            "token": {"url": "/token", "client_id": "vigil"},
            "protected": {"path": "/me"},
        },
        "cors": {"timeout": "1s", "routes": [{"path": "/"}], "allowed_origins": ["https://a.example"]},
    }
    path = write(tmp_path, {"components": {"web": {"type": "http", "url": "https://127.0.0.1:1/", "checks": checks}}})
    result = vigil("config", "show", "--format", "json", "--config", path)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)["components"]["web"]["checks"]
    assert shown["https"]["request_timeout"] == 1.2
    assert shown["tls"]["handshake_timeout"] == 0.8
    assert (shown["ws"]["handshake_timeout"], shown["ws"]["reply_timeout"]) == (0.4, 0.4)
    assert (shown["auth"]["token"]["timeout"], shown["auth"]["request_timeout"]) == (0.4, 0.4)
    assert shown["cors"]["request_timeout"] == 0.8
    # Only what the user set can contradict the timeout.
    checks["ws"]["reply_timeout"] = "2s"
    path = write(tmp_path, {"components": {"web": {"type": "http", "url": "https://127.0.0.1:1/", "checks": checks}}})
    assert refused("config", "validate", "--config", path) == [
        "components.web.checks.ws.timeout: 1s must be longer than handshake_timeout + reply_timeout (2.4s)"
    ]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (".inf", "a duration must be finite and at most 3650d"),
        ("30d", "30d is longer than 7d, the most the history kept may be"),
    ],
)
def test_history_is_bounded(tmp_path: Path, value: str, problem: str) -> None:
    """History costs fixed memory per check and minute: an unbounded one cannot be allocated."""
    text = f"defaults: {{history: {value}}}\ncomponents: {{cache: {{type: redis}}}}\n"
    assert refused("config", "validate", "--config", write(tmp_path, text)) == [f"defaults.history: {problem}"]
