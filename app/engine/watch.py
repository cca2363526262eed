"""Watching the configuration file: a poll of its identity through every symlink, and of its content when that
moved, so a Kubernetes ConfigMap update (an atomic swap of the volume's `..data` link) triggers one reload.

It polls rather than use inotify: a swapped symlink's target directory is new, and polling costs one stat().
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from app.config.files import CONFIG_LIMIT, FileRefused, read_limited
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


class Watcher:
    """The configuration file as last read. `mark` runs just before every reload reads it (whatever caused the
    reload), so a change made after that is always seen by the next poll, and none is reloaded twice."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: Identity | None = None
        self.content: str | None = None
        self.mark()

    def mark(self) -> None:
        self.seen, self.content = identity(self.path), digest(self.path)

    def changed(self) -> bool:
        """Whether the content changed since the last mark (a touch, or a swap to the same bytes, is no change)."""
        now = identity(self.path)
        if now is None or now == self.seen:
            return False  # unchanged, or gone for a moment (a swap in progress)
        self.seen, content = now, digest(self.path)
        if content is None or content == self.content:
            return False
        self.content = content  # a refused content is not retried: the next change is
        return True

    async def run(self, config: Callable[[], ReloadConfig], reload: Callable[[], Awaitable[object]]) -> None:
        """Until cancelled: while `config().watch`, poll every `config().interval` and `reload()` on a change."""
        while True:
            await asyncio.sleep(config().interval)
            if not config().watch or not self.changed():
                continue
            log.info("configuration file %s changed; reloading", self.path)
            try:
                await reload()
            except Exception:  # a bug in Vigil: logged with its traceback, and the watch goes on
                log.exception("reloading after a change of %s failed", self.path)
