"""Files named in the configuration (the config file, `*_file` secrets, CA bundles), read without surprises:
regular files only, opened without blocking (a FIFO would wait for a writer forever), and never past a size limit.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from app.units import size

CONFIG_LIMIT = 4 * 1024 * 1024  # a config with thousands of checks is a few hundred KiB
SECRET_LIMIT = 64 * 1024  # a password, token or PEM key is a few KiB; a Kubernetes Secret is at most 1 MiB in all
CA_LIMIT = 4 * 1024 * 1024  # the whole Mozilla bundle is about 220 KiB


class FileRefused(Exception):
    """The file cannot be used; the message is the finished reason ("is a FIFO, not a regular file")."""


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a plain file"


def _judge(info: os.stat_result, limit: int) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise FileRefused(f"is {_kind(info.st_mode)}, not a regular file")
    if info.st_size > limit:
        raise FileRefused(f"is {info.st_size:,} bytes, more than the {size(limit)} Vigil reads")


def read_limited(path: Path, limit: int) -> bytes:
    """The bytes of `path`, a regular file of at most `limit` bytes. FileRefused (or OSError) otherwise."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        _judge(os.fstat(fd), limit)  # of what was opened, not of what the name pointed to a moment before
    except FileRefused:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as file:
        data = file.read(limit + 1)  # the size can change after fstat: never read past the limit
    if len(data) > limit:
        raise FileRefused(f"is more than the {size(limit)} Vigil reads")
    return data


def check_file(path: Path, limit: int) -> None:
    """For files a library reads later (a CA bundle): refuse now what would block or exhaust it. A missing file is
    left to the reader, which words it when the file is used."""
    try:
        info = path.stat()
    except OSError:
        return
    _judge(info, limit)
