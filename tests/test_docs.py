"""The documentation: every Vigil configuration example in the README and the docs site loads, the site builds with
`mkdocs build --strict` (no broken link, anchor or page), and the version and packaging facts it states hold."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from app import __version__
from app.config.settings import load_settings
from app.config.specs import resolve

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
# A fenced block: its info string (```yaml title="values.yaml") and its body.
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)
TITLE = re.compile(r'title="([^"]*)"')


def yaml_blocks() -> list[tuple[str, str, str]]:
    """(where, title or "", body) for every ```yaml block of the README and the docs."""
    blocks = []
    for page in PAGES:
        text = page.read_text()
        for match in FENCE.finditer(text):
            info = match["info"].strip()
            if info.split(" ", 1)[0] not in ("yaml", "yml"):
                continue
            line = text.count("\n", 0, match.start()) + 1
            title = TITLE.search(info)
            blocks.append((f"{page.relative_to(ROOT)}:{line}", title[1] if title else "", match["body"]))
    return blocks


BLOCKS = yaml_blocks()


def config_of(title: str, document: Any) -> Any | None:
    """The Vigil configuration a block holds, by the docs' rule: an untitled block or one titled *vigil.yaml is
    one; a Helm values file holds one under `config`; anything else is not one."""
    if not title or title.endswith("vigil.yaml"):
        return document
    if title.endswith("values.yaml"):
        return document.get("config") if isinstance(document, dict) else None
    return None


def config_in(title: str, body: str) -> Any | None:
    documents = list(yaml.safe_load_all(body))
    return config_of(title, documents[0]) if len(documents) == 1 else None


def with_secret_files(node: Any, directory: Path, auth_algorithms: list[str]) -> Any:
    """The config with every `*_file` pointed at a file written here: a public key for `auth.key_file` under a
    public-key algorithm, a long enough HMAC secret for one under HS*, a placeholder secret for the others."""
    if isinstance(node, list):
        return [with_secret_files(item, directory, auth_algorithms) for item in node]
    if not isinstance(node, dict):
        return node
    result = {}
    for key, value in node.items():
        if isinstance(key, str) and key.endswith("_file") and isinstance(value, str):
            path = directory / f"secret-{len(list(directory.iterdir()))}"
            if key == "key_file" and auth_algorithms and not auth_algorithms[0].startswith("HS"):
                private: Any = (
                    ec.generate_private_key(ec.SECP256R1())
                    if auth_algorithms[0].startswith("ES")
                    else rsa.generate_private_key(public_exponent=65537, key_size=2048)
                )
                path.write_bytes(
                    private.public_key().public_bytes(
                        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                    )
                )
            else:
                path.write_text("a-placeholder-secret-long-enough-for-any-hmac-key\n")
            result[key] = str(path)
        else:
            result[key] = with_secret_files(value, directory, auth_algorithms)
    return result


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("VIGIL_"):
            monkeypatch.delenv(name)


def test_the_docs_have_config_examples_and_mark_the_others() -> None:
    configs = [where for where, title, body in BLOCKS if config_in(title, body) is not None]
    assert len(configs) >= 8, configs
    assert any(where.startswith("README.md") for where in configs)
    others = [(where, title) for where, title, _ in BLOCKS if title and config_of(title, {}) is None]
    assert others, "the Kubernetes manifests and rules are titled, so they are told apart from configs"


@pytest.mark.parametrize(("where", "title", "body"), BLOCKS, ids=[where for where, _, _ in BLOCKS])
def test_every_yaml_example_parses_and_every_config_example_loads(
    where: str, title: str, body: str, tmp_path: Path, clean_environment: None
) -> None:
    assert list(yaml.safe_load_all(body)), f"{where}: an empty YAML block"
    config = config_in(title, body)
    if config is None:
        return
    auth = config.get("auth") or {}
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    config = with_secret_files(config, secrets, list(auth.get("algorithms", [])))
    if auth and not auth.get("key") and not auth.get("key_file"):
        # An example that takes the key from the environment, as it says.
        os.environ["VIGIL_AUTH__KEY"] = "a-placeholder-secret-long-enough-for-any-hmac-key"
    path = tmp_path / "vigil.yaml"
    path.write_text(yaml.safe_dump(config))
    settings = load_settings(path)
    assert resolve(settings, one_shot=True) is not None


def test_a_broken_config_example_would_fail(tmp_path: Path, clean_environment: None) -> None:
    # The test above is only worth something if load_settings refuses what the docs could get wrong.
    from app.config.settings import ConfigError

    path = tmp_path / "vigil.yaml"
    path.write_text(
        "components:\n  cache:\n    type: redis\n    url: redis://h:6379/0\n    checks: {connectivty: {}}\n"
    )
    with pytest.raises(ConfigError, match="connectivty"):
        load_settings(path)


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    mkdocs = Path(sys.executable).with_name("mkdocs")
    if not mkdocs.exists():
        pytest.fail("mkdocs is not installed: install requirements-dev.lock (scripts/test.sh does)")
    site = tmp_path / "site"
    done = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert (site / "index.html").exists() and (site / "troubleshooting" / "index.html").exists()
    assert (site / "status-page.png").exists()


def test_a_broken_link_fails_the_build(tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(ROOT / "docs", copy / "docs")
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    page = copy / "docs" / "cli.md"
    page.write_text(page.read_text() + "\nSee [the gate](metrics.md#no-such-anchor).\n")
    done = subprocess.run(
        [str(Path(sys.executable).with_name("mkdocs")), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=copy,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
    )
    assert done.returncode != 0
    assert "no-such-anchor" in done.stderr


def test_the_readme_is_a_front_door() -> None:
    readme = (ROOT / "README.md").read_text()
    lines = readme.splitlines()
    assert 200 <= len(lines) <= 300, len(lines)
    head = "\n".join(lines[:40])
    assert "bash scripts/run-local.sh" in head and "bash scripts/test.sh" in head
    assert "docs/status-page.png" in readme
    # CI runs exactly the README's test command.
    assert "bash scripts/test.sh" in (ROOT / ".ci" / "run").read_text()
    for link in re.findall(r"\]\((docs/[^)#]+)", readme):
        assert (ROOT / link).exists(), link
    words = ("issue ", "this round", "an earlier round", "design card", "these machines", "helper")
    for page in PAGES:
        text = page.read_text().lower()
        assert not [word for word in words if word in text], page


def test_the_version_lives_in_one_place() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and project["dynamic"] == ["version"]
    assert project["license"] == "Apache-2.0" and (ROOT / "LICENSE").read_text().count("Apache License") >= 1
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ARG VERSION=(\S+)$", dockerfile, re.M)[1] == __version__  # type: ignore[index]
    assert re.search(rf"^## \[?{re.escape(__version__)}\]?", (ROOT / "CHANGELOG.md").read_text(), re.M)
    done = subprocess.run(
        [str(Path(sys.executable).with_name("vigil")), "--version"], capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == f"vigil {__version__}"


def test_direct_imports_are_declared_and_locked() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[\[<>=;! ]", spec, maxsplit=1)[0].lower() for spec in project["dependencies"]}
    assert {"pydantic", "pyyaml", "starlette", "python-jose"} <= declared
    jose = next(spec for spec in project["dependencies"] if spec.startswith("python-jose"))
    assert jose.endswith(">=3.4")
    for lock in ("requirements.lock", "requirements-dev.lock"):
        text = (ROOT / lock).read_text()
        pins = re.findall(r"^([a-z0-9][a-z0-9._-]*)==\S+", text, re.M)
        assert {"pydantic", "pyyaml", "starlette", "python-jose", "fastapi"} <= set(pins), lock
        # Every pin carries its hashes (pip --require-hashes refuses the file otherwise).
        entries = re.split(r"\n(?=[a-z0-9])", text.split("\n", 2)[2])
        assert all("--hash=sha256:" in entry for entry in entries if "==" in entry), lock
    assert "--require-hashes -r requirements.lock" in (ROOT / "Dockerfile").read_text()
    assert "--require-hashes" in (ROOT / "scripts" / "lib.sh").read_text()


VALUES = [(where, body) for where, title, body in BLOCKS if title.endswith("values.yaml")]


@pytest.mark.parametrize(("where", "body"), VALUES, ids=[where for where, _ in VALUES])
def test_every_documented_helm_values_file_renders_the_chart(where: str, body: str) -> None:
    from helm_python import Chart

    values = yaml.safe_load(body)
    rendered = Chart.load(str(ROOT / "helm" / "vigil")).render(values, name="vigil", namespace="default")
    manifests = [text for name, text in rendered.items() if name.endswith((".yaml", ".yml"))]  # not NOTES.txt
    documents = [doc for text in manifests for doc in yaml.safe_load_all(text) if doc]
    kinds = {doc["kind"]: doc for doc in documents}
    assert {"Deployment", "Service", "ConfigMap"} <= set(kinds), where
    image = kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == f"{values['image']['repository']}:{values['image']['tag']}"
    # `kubectl port-forward svc/vigil 8080:8080`, as the docs say.
    assert kinds["Service"]["metadata"]["name"] == "vigil"
    assert [port["port"] for port in kinds["Service"]["spec"]["ports"]] == [8080]
