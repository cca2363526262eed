"""The watcher over real files: the configuration and the secret files it names, swapped as the kubelet swaps a
ConfigMap or Secret volume (a new `..data` directory and one rename of the link)."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from app.engine.watch import Watcher, secret_files


class Volume:
    """A directory laid out as a kubelet volume: `NAME -> ..data/NAME`, `..data` swapped by `publish`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.versions = 0

    def publish(self, files: dict[str, str]) -> None:
        self.versions += 1
        new = self.root / f"..v{self.versions}"
        new.mkdir()
        for name, text in files.items():
            (new / name).write_text(text)
            if not (self.root / name).is_symlink():
                os.symlink(f"..data/{name}", self.root / name)
        os.symlink(new.name, self.root / "..tmp")
        os.replace(self.root / "..tmp", self.root / "..data")


def config_naming(password_file: Path | None, ca_file: Path | None = None) -> str:
    component: dict[str, object] = {"type": "redis", "url": "redis://127.0.0.1:1/0"}
    if password_file is not None:
        component["password_file"] = str(password_file)
    if ca_file is not None:
        component["tls_ca_file"] = str(ca_file)
    return yaml.safe_dump({"components": {"cache": component}})


def test_a_rotated_secret_is_a_change_and_the_same_bytes_again_are_not(tmp_path: Path) -> None:
    secret, config = Volume(tmp_path / "secret"), Volume(tmp_path / "config")
    secret.publish({"password": "first"})
    config.publish({"vigil.yaml": config_naming(secret.root / "password")})
    watcher = Watcher(config.root / "vigil.yaml")
    assert watcher.changed() is False
    secret.publish({"password": "second"})
    assert watcher.changed() is True
    assert watcher.changed() is False  # seen once
    secret.publish({"password": "second"})  # moved, same bytes
    assert watcher.changed() is False


def test_a_named_secret_not_there_yet_waits_and_a_config_that_drops_it_is_not_stuck(tmp_path: Path) -> None:
    config = Volume(tmp_path / "config")
    missing = tmp_path / "secret" / "password"
    config.publish({"vigil.yaml": config_naming(missing)})
    watcher = Watcher(config.root / "vigil.yaml")
    config.publish({"vigil.yaml": config_naming(missing) + "# edited\n"})
    assert watcher.changed() is False  # a reload would be refused for the missing file: wait for it
    missing.parent.mkdir()
    missing.write_text("now here")
    assert watcher.changed() is True
    missing.unlink()
    config.publish({"vigil.yaml": config_naming(None)})  # the secret is gone, and so is the config's mention of it
    assert watcher.changed() is True


def test_only_secret_files_are_followed_not_the_ca_bundle(tmp_path: Path) -> None:
    path = tmp_path / "vigil.yaml"
    path.write_text(config_naming(tmp_path / "password", tmp_path / "ca.pem"))
    assert secret_files(path) == [tmp_path / "password"]
    path.write_text("components: [unclosed")
    assert secret_files(path) == []
