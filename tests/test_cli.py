"""The `vigil` command as a real subprocess: config validate/show, check (exit codes, json, junit), serve + SIGTERM."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from devenv.servers import free_port
from tests.conftest import http, reach

VIGIL = str(Path(sys.executable).with_name("vigil"))
FAST = {"interval": "2s", "timeout": "500ms", "failure_threshold": 1, "jitter": 0}


def env(**extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    return {**clean, **extra}


def vigil(*args: str, extra_env: dict[str, str] | None = None, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [VIGIL, *args], check=False, capture_output=True, text=True, timeout=timeout, env=env(**(extra_env or {}))
    )


def write(tmp_path: Path, data: dict[str, Any] | str, name: str = "vigil.yaml") -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return str(path)


def system(http_target: Any, *, critical_fails: bool = False) -> dict[str, Any]:
    return {
        "defaults": FAST,
        "components": {
            "api": http(http_target.url, ok=reach("/ok"), teapot=reach("/status/418", severity="degraded")),
            "web": http(http_target.url, home=reach("/status/500" if critical_fails else "/ok")),
        },
    }


def assert_no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout
    assert 'File "' not in result.stderr


# -- config -------------------------------------------------------------------------------------------


def test_config_validate_ok(tmp_path: Path, http_target: Any) -> None:
    result = vigil("config", "validate", "--config", write(tmp_path, system(http_target)))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "configuration ok: 2 components, 3 checks\n"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"components": {"db": {"type": "postgres"}}}, ["components.db.type: unknown type 'postgres'"]),
        ({"components": {"api": {"type": "http"}}}, ["components.api.url: Field required"]),
        (
            {"components": {"api": {"type": "http", "url": "ftp://x"}}},
            ["components.api.url: must be an http:// or https:// URL with a host"],
        ),
        ({"defaults": {"interval": "soon"}}, ["defaults.interval: expected a duration"]),
        (
            {
                "defaults": {"interval": "1s", "timeout": "2s"},
                "components": {"api": {"type": "http", "url": "http://127.0.0.1:1/", "checks": {"reachable": {}}}},
            },
            ["components.api.checks.reachable.timeout: 2s must be shorter than the interval (1s)"],
        ),
        ({"server": {"prot": 80}}, ["server.prot: unknown field"]),
        ({"server": {"show_details": "sometimes"}}, ["server.show_details: "]),
        (
            {"auth": {"algorithms": ["none"], "key": "k", "audience": "a", "issuer": "i"}},
            ["auth.algorithms: unsupported algorithm 'none'"],
        ),
        (
            {"auth": {"algorithms": ["HS256"], "audience": "a"}},
            ["auth.key: Field required", "auth.issuer: Field required"],
        ),
        (
            {"components": {"Bad Name": {"type": "http", "url": "http://127.0.0.1:1/"}}},
            ["components.Bad Name: name must"],
        ),
        ("components: [unclosed", ["line 1"]),
        ("- just\n- a list\n", ["the top level must be a mapping"]),
    ],
)
def test_config_validate_bad_exits_2_naming_the_field(tmp_path: Path, data: Any, expected: list[str]) -> None:
    path = write(tmp_path, data)
    result = vigil("config", "validate", "--config", path)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert_no_traceback(result)
    lines = result.stderr.splitlines()
    assert all(line.startswith("vigil: config error: ") for line in lines), lines
    for want in expected:
        assert any(want in line for line in lines), (want, lines)


def test_bad_config_never_starts_any_command(tmp_path: Path) -> None:
    path = write(tmp_path, {"defaults": {"interval": "soon"}, "components": {"db": {"type": "postgres"}}})
    validate = vigil("config", "validate", "--config", path)
    assert validate.returncode == 2
    assert len(validate.stderr.splitlines()) == 2  # one line per problem
    for command in (["config", "show"], ["check"], ["serve", "--port", "0"]):
        other = vigil(*command, "--config", path)
        assert other.returncode == 2, (command, other.stderr)
        assert other.stderr == validate.stderr
        assert other.stdout == ""


def test_missing_config_file_exits_2(tmp_path: Path) -> None:
    result = vigil("config", "validate", "--config", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert "nope.yaml" in result.stderr
    assert_no_traceback(result)


def test_config_from_vigil_config_and_env_overrides(tmp_path: Path, http_target: Any) -> None:
    path = write(tmp_path, system(http_target))
    result = vigil(
        "config",
        "show",
        extra_env={"VIGIL_CONFIG": path, "VIGIL_DEFAULTS__TIMEOUT": "750ms", "VIGIL_SERVER__SHOW_DETAILS": "always"},
    )
    assert result.returncode == 0, result.stderr
    shown = yaml.safe_load(result.stdout)  # YAML by default, the config's own language
    assert shown == json.loads(
        vigil(
            "config",
            "show",
            "--format",
            "json",
            extra_env={
                "VIGIL_CONFIG": path,
                "VIGIL_DEFAULTS__TIMEOUT": "750ms",
                "VIGIL_SERVER__SHOW_DETAILS": "always",
            },
        ).stdout
    )
    assert shown["server"]["show_details"] == "always"
    assert shown["components"]["api"]["checks"]["ok"]["timeout"] == 0.75
    assert shown["components"]["api"]["checks"]["ok"]["interval"] == 2.0
    assert shown["components"]["api"]["checks"]["teapot"]["severity"] == "degraded"
    assert shown["components"]["web"]["checks"]["home"]["severity"] == "critical"
    bad = vigil("config", "validate", extra_env={"VIGIL_CONFIG": path, "VIGIL_DEFAULTS__TIMEOUT": "forever"})
    assert bad.returncode == 2
    assert "defaults.timeout: " in bad.stderr
    assert_no_traceback(bad)


def test_help_and_usage_errors() -> None:
    for args in (["--help"], ["serve", "--help"], ["check", "--help"], ["config", "validate", "--help"]):
        result = vigil(*args)
        assert result.returncode == 0, args
        assert "usage: vigil" in result.stdout
    assert "--config" in vigil("check", "--help").stdout
    for args in ([], ["frobnicate"], ["check", "--format", "yaml"], ["config"]):
        result = vigil(*args)
        assert result.returncode == 2, args
        assert "vigil: error: " in result.stderr
        assert_no_traceback(result)
    assert vigil("--version").stdout.startswith("vigil ")


# -- check --------------------------------------------------------------------------------------------


def test_check_exits_0_when_every_critical_check_passes(tmp_path: Path, http_target: Any) -> None:
    started = time.monotonic()
    result = vigil("check", "--config", write(tmp_path, system(http_target)))
    assert time.monotonic() - started < 10
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["CHECK", "STATUS", "SEVERITY", "TIME", "OUTPUT"]
    assert lines[1] == "cross-service communication: WARN (2 of 3 ok, 1 warns)"  # grouped by area, with its verdict
    rows = {line.split()[0]: line.split()[1:3] for line in lines[2:5]}
    assert rows == {
        "api:ok": ["PASS", "critical"],
        "api:teapot": ["FAIL", "degraded"],
        "web:home": ["PASS", "critical"],
    }
    assert "HTTP 418, expected 200" in result.stdout
    assert lines[-1].startswith("READY: 2 of 3 checks ok, 1 warns, in ")
    # --strict makes degraded checks gate the exit status too.
    strict = vigil("check", "--strict", "--config", write(tmp_path, system(http_target)))
    assert strict.returncode == 1
    assert strict.stdout.splitlines()[-1].startswith("NOT READY")


def test_check_shows_progress_on_a_terminal_only(tmp_path: Path, http_target: Any) -> None:
    """stderr on a pseudo-terminal gets a progress line; a pipe (CI logs) gets none."""
    import pty

    config = write(tmp_path, system(http_target))
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(
            [VIGIL, "check", "--config", config],
            stdout=subprocess.PIPE,
            stderr=terminal,
            env=env(),
            timeout=30,
            check=False,
        )
        os.close(terminal)
        seen = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: the terminal's other end is closed and drained
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(controller)
    assert done.returncode == 0
    assert b"running checks: 3/3 done" in seen
    assert b"running checks" not in done.stdout
    piped = vigil("check", "--config", config)
    assert "running checks" not in piped.stderr


def test_check_exits_1_when_a_critical_check_fails(tmp_path: Path, http_target: Any) -> None:
    path = write(tmp_path, system(http_target, critical_fails=True))
    result = vigil("check", "--config", path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith(
        "NOT READY: web:home blocks readiness; 1 of 3 checks ok, 1 warns, in "
    )
    assert "HTTP 500, expected 200" in result.stdout
    # Leaving the failing component out makes the gate pass.
    only_api = vigil("check", "--config", path, "--component", "api")
    assert only_api.returncode == 0, only_api.stdout
    assert "web:home" not in only_api.stdout
    only_one = vigil("check", "--config", path, "--check", "web:home")
    assert only_one.returncode == 1
    assert [line.split()[0] for line in only_one.stdout.splitlines()[2:3]] == ["web:home"]


def test_check_usage_errors_exit_2(tmp_path: Path, http_target: Any) -> None:
    path = write(tmp_path, system(http_target))
    for args, message in (
        (["--component", "nope"], "--component nope: no such component"),
        (["--check", "api:nope"], "--check api:nope: no such check"),
        (["--check", "api"], "--check api: no such check"),
    ):
        result = vigil("check", "--config", path, *args)
        assert result.returncode == 2, (args, result.stdout)
        assert message in result.stderr
        assert result.stdout == ""
        assert_no_traceback(result)


def test_check_times_out_hung_targets_concurrently(tmp_path: Path, http_target: Any, hanging_server: Any) -> None:
    data = {
        "defaults": {"interval": "5s", "timeout": "1s", "jitter": 0},
        "components": {
            "hung": http(f"http://127.0.0.1:{hanging_server.port}/", a=reach("/"), b=reach("/x"), c=reach("/y")),
            "api": http(http_target.url, ok=reach("/ok")),
        },
    }
    result = vigil("check", "--format", "junit", "--config", write(tmp_path, data))
    assert result.returncode == 1
    suite = ET.fromstring(result.stdout.split("\n", 1)[1]).find("testsuite")
    assert suite is not None
    # Three 1 s timeouts run side by side, measured by vigil itself (interpreter start-up excluded).
    assert 0.9 < float(suite.get("time", "0")) < 2.0, suite.get("time")
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    for name in ("a", "b", "c"):
        failure = cases[name].find("failure")
        assert failure is not None and failure.get("message") == "timed out after 1s"
    assert cases["ok"].find("failure") is None


def test_check_format_json_is_health_json(tmp_path: Path, http_target: Any) -> None:
    result = vigil("check", "--format", "json", "--config", write(tmp_path, system(http_target, critical_fails=True)))
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["status"] == "fail"
    assert set(document["checks"]) == {"api:ok", "api:teapot", "web:home"}
    home = document["checks"]["web:home"][0]
    assert (home["componentType"], home["status"], home["output"]) == ("http", "fail", "HTTP 500, expected 200")
    ok = document["checks"]["api:ok"][0]
    assert ok["status"] == "pass"
    assert ok["observedUnit"] == "s"
    assert ok["observedValue"] > 0


@pytest.mark.parametrize(("strict", "code", "status"), [(False, 0, "warn"), (True, 1, "fail")])
def test_check_exit_status_and_document_agree(
    tmp_path: Path, http_target: Any, strict: bool, code: int, status: str
) -> None:
    """A failing degraded check: warn and exit 0, or with --strict fail and exit 1; never exit 1 beside `warn`."""
    config = write(tmp_path, system(http_target))
    result = vigil("check", "--format", "json", "--config", config, *(["--strict"] if strict else []))
    assert result.returncode == code, result.stderr
    assert json.loads(result.stdout)["status"] == status
    table = vigil("check", "--config", config, *(["--strict"] if strict else []))
    assert table.returncode == code
    assert table.stdout.splitlines()[-1].startswith("NOT READY: " if strict else "READY: ")


def test_check_format_junit_writes_parseable_xml(tmp_path: Path, http_target: Any) -> None:
    report = tmp_path / "out" / "vigil.xml"
    report.parent.mkdir()
    result = vigil(
        "check",
        "--format",
        "junit",
        "--output",
        str(report),
        "--config",
        write(tmp_path, system(http_target, critical_fails=True)),
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert "NOT READY" in result.stderr  # the table goes to stderr when the report goes to a file
    root = ET.parse(report).getroot()
    assert root.tag == "testsuites"
    # The readiness rule: the failing degraded check is said, not failed (as the exit status and /readyz judge it).
    assert (root.get("tests"), root.get("failures")) == ("3", "1")
    suites = root.findall("testsuite")
    assert len(suites) == 1
    cases = {f"{case.get('classname')}.{case.get('name')}": case for case in suites[0].findall("testcase")}
    assert set(cases) == {"vigil.api.ok", "vigil.api.teapot", "vigil.web.home"}
    assert cases["vigil.api.ok"].find("failure") is None
    failure = cases["vigil.web.home"].find("failure")
    assert failure is not None
    assert failure.get("message") == "HTTP 500, expected 200"
    assert failure.get("type") == "critical"
    assert cases["vigil.api.teapot"].find("failure") is None
    assert cases["vigil.api.teapot"].findtext("system-out") == (
        "failed (degraded: does not gate readiness): HTTP 418, expected 200"
    )
    for case in cases.values():
        assert float(case.get("time")) >= 0
    # To stdout as well.
    printed = vigil("check", "--format", "junit", "--config", write(tmp_path, system(http_target)))
    assert printed.returncode == 0
    assert len(ET.fromstring(printed.stdout.split("\n", 1)[1]).findall("testsuite/testcase")) == 3


def test_check_interrupted_exits_130_at_once(tmp_path: Path, hanging_server: Any) -> None:
    data = {
        "defaults": {"interval": "20s", "timeout": "10s", "jitter": 0},
        "components": {"hung": http(f"http://127.0.0.1:{hanging_server.port}/", a=reach("/"))},
    }
    proc = subprocess.Popen(
        [VIGIL, "check", "--config", write(tmp_path, data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
    )
    deadline = time.monotonic() + 10
    while not hanging_server.conns:  # the check is in flight
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=5)
    assert time.monotonic() - sent < 3
    assert proc.returncode == 130, err
    assert err.strip().endswith("vigil: interrupted")
    assert "Traceback" not in err


def test_check_output_to_a_missing_directory_is_a_usage_error(tmp_path: Path, http_target: Any) -> None:
    result = vigil(
        "check",
        "--format",
        "junit",
        "--output",
        str(tmp_path / "no" / "such" / "dir.xml"),
        "--config",
        write(tmp_path, system(http_target)),
    )
    assert result.returncode == 2
    assert "dir.xml" in result.stderr
    assert_no_traceback(result)


# -- serve --------------------------------------------------------------------------------------------


def fetch(url: str, timeout: float = 1.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_serve_answers_and_sigterm_turns_readyz_503_then_exits(
    tmp_path: Path, http_target: Any, hanging_server: Any
) -> None:
    port = free_port()
    data = {
        "defaults": {"interval": "300ms", "timeout": "250ms", "jitter": 0},
        "components": {
            "api": http(http_target.url, ok=reach("/ok")),
            # In flight when SIGTERM arrives: must be cancelled, not waited for.
            "hung": http(
                f"http://127.0.0.1:{hanging_server.port}/",
                stuck=reach("/", severity="degraded", interval="5s", timeout="4s"),
            ),
        },
    }
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            VIGIL,
            "serve",
            "--config",
            write(tmp_path, data),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-format",
            "json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            assert proc.poll() is None, proc.communicate()
            try:
                if fetch(base + "/readyz") == (200, "ok\n"):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "vigil serve never became ready"
            time.sleep(0.05)
        assert fetch(base + "/livez") == (200, "ok\n")
        assert fetch(base + "/startupz")[0] == 503  # the hung check has not finished its first run

        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        seen_503 = None
        while proc.poll() is None and time.monotonic() - sent < 6:
            asked = time.monotonic()
            try:
                status, body = fetch(base + "/readyz", timeout=0.5)
            except OSError:
                status, body = None, ""
            if status == 200:
                assert asked - sent < 1.0, "readyz still 200 after SIGTERM"
            if status == 503 and seen_503 is None:
                seen_503 = time.monotonic() - sent
                assert body == "shutting down\n"
                assert fetch(base + "/livez")[0] == 200  # still alive while draining
            time.sleep(0.02)
        proc.wait(timeout=max(0.1, 6 - (time.monotonic() - sent)))
        exited = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    _, err = proc.communicate()
    assert seen_503 is not None and seen_503 < 2.0, seen_503
    assert exited < 5, exited
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    logs = [json.loads(line) for line in err.splitlines()]  # every line is JSON, uvicorn's too
    assert {"check": "api:ok", "old": "pending", "new": "pass"}.items() <= next(
        line for line in logs if line.get("check") == "api:ok"
    ).items()
    assert any(line["logger"].startswith("uvicorn") for line in logs)


def test_ctrl_c_on_serve_shuts_down_quietly(tmp_path: Path, http_target: Any) -> None:
    """SIGINT is a shutdown like SIGTERM: readiness 503, a drain, exit 0, no KeyboardInterrupt traceback."""
    port = free_port()
    data = {"defaults": FAST, "components": {"api": http(http_target.url, ok=reach("/ok"))}}
    proc = subprocess.Popen(
        [VIGIL, "serve", "--config", write(tmp_path, data), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            assert proc.poll() is None, proc.communicate()
            with contextlib.suppress(OSError):
                if fetch(f"http://127.0.0.1:{port}/readyz") == (200, "ok\n"):
                    break
            assert time.monotonic() < deadline, "vigil serve never became ready"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err


@pytest.mark.parametrize(
    ("extra_env", "problem"),
    [
        ({"VIGIL_DEFAULTS": "{bad"}, "vigil: config error: VIGIL_DEFAULTS: not valid JSON"),
        (
            {
                "VIGIL_AUTH__ALGORITHMS": "RS256",
                "VIGIL_AUTH__KEY": "x" * 40,
                "VIGIL_AUTH__AUDIENCE": "a",
                "VIGIL_AUTH__ISSUER": "i",
            },
            "vigil: config error: auth.key: not a PEM public key usable with RS256",
        ),
    ],
)
def test_bad_environment_overrides_exit_2(tmp_path: Path, extra_env: dict[str, str], problem: str) -> None:
    result = vigil("config", "validate", "--config", write(tmp_path, {}), extra_env=extra_env)
    assert result.returncode == 2
    assert result.stderr.startswith(problem), result.stderr
    assert_no_traceback(result)


def test_output_cut_short_by_the_reader_exits_quietly(tmp_path: Path, http_target: Any) -> None:
    """`vigil config show | head` and `vigil check | head`: no BrokenPipeError traceback. The reader here (`true`)
    is gone before Vigil writes, so every write meets a closed pipe."""
    config = write(tmp_path, system(http_target, critical_fails=True))
    for command, code in ((["config", "show"], 0), (["check"], 1)):
        done = subprocess.run(
            f'{VIGIL} {" ".join(command)} --config {config} | true; echo "${{PIPESTATUS[0]}}"',
            shell=True,
            executable="/bin/bash",
            capture_output=True,
            text=True,
            env=env(),
            timeout=60,
        )
        assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
        assert done.stdout.strip() == str(code), (command, done.stdout, done.stderr)
