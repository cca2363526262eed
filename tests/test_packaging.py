"""Installing Vigil without Debian root: a wheel built from the checkout installs into a fresh virtual environment
(its dependencies from the hashed lock alone) and gives a working `vigil` command; `scripts/run-local.sh` names the
packages to install when the servers are missing, and goes on when they are present."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from app import __version__

ROOT = Path(__file__).resolve().parents[1]
INSTALL_TIMEOUT = 600  # seconds: pip on a busy 2-core machine, wheels from the local cache or the index


@pytest.mark.slow
@pytest.mark.timeout(4 * INSTALL_TIMEOUT)  # four pip runs, each with its own deadline
def test_a_wheel_installs_into_a_fresh_venv_from_the_lock_and_gives_a_vigil_command(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(ROOT)],
        check=True,
        timeout=INSTALL_TIMEOUT,
        cwd=tmp_path,
    )
    (wheel,) = dist.glob("vigil-*.whl")
    assert wheel.name.startswith(f"vigil-{__version__}-")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(name for name in names if name.endswith(".dist-info/METADATA"))).decode()
    # The status page's files travel with the code, and the license is declared and shipped.
    assert any(name.startswith("app/static/") for name in names)
    assert "License-Expression: Apache-2.0" in metadata
    assert any(name.endswith("licenses/LICENSE") for name in names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=INSTALL_TIMEOUT)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    # The runtime lock alone must be enough: --no-deps below would leave anything it lacks missing.
    subprocess.run(
        [*pip, "--require-hashes", "-r", str(ROOT / "requirements.lock")], check=True, timeout=INSTALL_TIMEOUT
    )
    subprocess.run([*pip, "--no-deps", str(wheel)], check=True, timeout=INSTALL_TIMEOUT)
    check = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "check"], capture_output=True, text=True, timeout=120
    )
    assert check.returncode == 0, check.stdout

    vigil = venv / "bin" / "vigil"
    assert subprocess.run([str(vigil), "--version"], capture_output=True, text=True, timeout=60).stdout == (
        f"vigil {__version__}\n"
    )
    config = tmp_path / "vigil.yaml"
    config.write_text(
        "components:\n  cache:\n    type: redis\n    url: redis://127.0.0.1:6379/0\n    checks: {connectivity: {}}\n"
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("VIGIL_")}
    done = subprocess.run(
        [str(vigil), "config", "validate", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,  # not the checkout: the installed package, not the source tree, is what runs
    )
    assert (done.returncode, done.stdout) == (0, "configuration ok: 1 components, 1 checks\n"), done.stderr


def bin_with(directory: Path, *commands: str) -> Path:
    """A PATH directory holding only these commands (links to the real ones) besides what the scripts need."""
    directory.mkdir()
    for command in ("id", "dirname", *commands):
        real = shutil.which(command)
        assert real, command
        (directory / command).symlink_to(real)
    return directory


def fake_servers(directory: Path, *commands: str) -> None:
    for command in commands:
        path = directory / command
        path.write_text("#!/bin/sh\nexit 0\n")
        path.chmod(0o755)


def test_run_local_names_the_packages_to_install_when_the_servers_are_missing(tmp_path: Path) -> None:
    # No server and no apt-get on the PATH (as on any machine where Vigil may not install Debian packages).
    path = bin_with(tmp_path / "bin")
    done = subprocess.run(
        ["/bin/bash", str(ROOT / "scripts" / "run-local.sh")],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": str(path), "HOME": str(tmp_path)},
    )
    assert done.returncode == 1
    assert done.stderr.splitlines()[:2] == [
        "missing: redis-server clickhouse-server",
        "install them (Debian/Ubuntu package names): sudo apt-get install -y redis-server clickhouse-server",
    ]
    assert "Traceback" not in done.stderr and "apt-get: command not found" not in done.stderr


def test_the_test_command_names_its_packages_too(tmp_path: Path) -> None:
    path = bin_with(tmp_path / "bin")
    fake_servers(path, "redis-server", "clickhouse-server", "redis-cli")
    done = subprocess.run(
        ["/bin/bash", "-c", "source scripts/lib.sh && ensure_debian_packages test"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={"PATH": str(path), "HOME": str(tmp_path), "ZOOKEEPER_JAR": str(tmp_path / "none.jar")},
    )
    assert done.returncode == 1
    assert (
        "sudo apt-get install -y zookeeper prometheus prometheus-alertmanager chromium chromium-driver" in done.stderr
    )


def test_with_the_servers_present_from_any_distribution_nothing_is_installed(tmp_path: Path) -> None:
    path = bin_with(tmp_path / "bin")
    fake_servers(path, "redis-server", "clickhouse-server")
    done = subprocess.run(
        ["/bin/bash", "-c", "source scripts/lib.sh && ensure_debian_packages && echo servers-found"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={"PATH": str(path), "HOME": str(tmp_path)},
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "servers-found\n", "")
