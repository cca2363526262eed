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


async def watch(path: Path, config: Callable[[], ReloadConfig], reload: Callable[[], Awaitable[object]]) -> None:
    """Until cancelled: while `config().watch`, poll `path` every `config().interval` and `reload()` once per change
    of content (a touch, or a swap to the same bytes, reloads nothing; a refused content is not retried)."""
    seen, content = identity(path), digest(path)
    while True:
        settings = config()
        await asyncio.sleep(settings.interval)
        if not config().watch:
            seen, content = identity(path), digest(path)  # switched on later: changes from then on
            continue
        now = identity(path)
        if now is None or now == seen:
            continue  # gone for a moment (a swap in progress) or unchanged
        seen, new = now, digest(path)
        if new is None or new == content:
            continue
        content = new
        log.info("configuration file %s changed; reloading", path)
        try:
            await reload()
        except Exception:  # a bug in Vigil: logged with its traceback, and the watch goes on
            log.exception("reloading after a change of %s failed", path)
