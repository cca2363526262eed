"""Watching the configuration file and the secret files it names (`password_file`, `key_file`, any `*_file` but
`tls_ca_file`): a poll of their identities through every symlink, and of their content when one moved, so a
Kubernetes ConfigMap or Secret update (an atomic swap of the volume's `..data` link) triggers one reload, and a
rotated password is in use without a restart.

It polls rather than use inotify: a swapped symlink's target directory is new, and polling costs one stat() a file.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from app.config.files import CONFIG_LIMIT, FileRefused, read_limited
from app.config.loading import read_yaml
from app.config.problems import ConfigError
from app.config.reload import ReloadConfig

log = logging.getLogger("vigil.reload")

Identity = tuple[int, int, int, int]


def identity(path: Path) -> Identity | None:
    """The file `path` leads to, as it is now (device, inode, size, mtime), or None when it cannot be read."""
    try:
        st = os.stat(path)  # follows symlinks: a new ..data target is a new inode
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(read_limited(path, CONFIG_LIMIT)).hexdigest()
    except (OSError, FileRefused):
        return None


def secret_files(path: Path) -> list[Path]:
    """The files the configuration at `path` reads secrets from (every `*_file` value but `tls_ca_file`, whose
    bundle is read when a client is built), in the order written; none when it cannot be read."""
    try:
        data = read_yaml(path)
    except ConfigError:
        return []
    found: list[Path] = []
    todo: list[object] = [data]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if str(key).endswith("_file") and key != "tls_ca_file" and isinstance(value, str):
                    found.append(Path(value))
                else:
                    todo.append(value)
        elif isinstance(node, list):
            todo.extend(node)
    return list(dict.fromkeys(found))


class Watcher:
    """The configuration file and its secret files as last read. `mark` runs just before every reload reads them
    (whatever caused the reload), so a change made after that is always seen by the next poll, and none is
    reloaded twice."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.files: list[Path] = [path]
        self.seen: tuple[Identity | None, ...] = ()
        self.content: tuple[str | None, ...] = ()
        self.mark()

    def mark(self) -> None:
        self.files = [self.path, *secret_files(self.path)]
        self.seen = tuple(identity(path) for path in self.files)
        self.content = tuple(digest(path) for path in self.files)

    def changed(self) -> bool:
        """Whether a content changed since the last mark (a touch, or a swap to the same bytes, is no change).
        A configuration that moved is read again for the secret files it names now; while one of those is missing
        (a swap in progress, or not written yet) nothing is reloaded, since the reload would be refused for it."""
        config = identity(self.path)
        if config is None:
            return False  # gone for a moment (a swap in progress)
        files = self.files if self.seen and config == self.seen[0] else [self.path, *secret_files(self.path)]
        now = tuple(identity(path) for path in files)
        if (files, now) == (self.files, self.seen) or None in now:
            return False
        self.files, self.seen = files, now
        content = tuple(digest(path) for path in files)
        if None in content or content == self.content:
            return False
        self.content = content  # a refused content is not retried: the next change is
        return True

    async def run(self, config: Callable[[], ReloadConfig], reload: Callable[[], Awaitable[object]]) -> None:
        """Until cancelled: while `config().watch`, poll every `config().interval` and `reload()` on a change."""
        while True:
            await asyncio.sleep(config().interval)
            if not config().watch or not self.changed():
                continue
            log.info("configuration file %s or a secret file it names changed; reloading", self.path)
            try:
                await reload()
            except Exception:  # a bug in Vigil: logged with its traceback, and the watch goes on
                log.exception("reloading after a change of %s failed", self.path)
