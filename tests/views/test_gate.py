"""`vigil check`'s table: what blocks readiness first and named in the summary, long outputs wrapped with a cut that
says so, colour on a terminal only (and never with NO_COLOR), through the real `vigil check` process."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path
from typing import Any

from app.model import Status
from app.views.gate import OUTPUT_LINES, table, wrap
from tests.conftest import http, reach
from tests.test_cli import FAST, VIGIL, env, write
from tests.views.test_statusview import make_store, record

LONG = "cannot reach the thing: " + " ".join(f"word{i}" for i in range(200))


def test_long_outputs_wrap_and_a_cut_says_so() -> None:
    assert wrap("short", 40) == ["short"]
    lines = wrap(LONG, 60)
    assert len(lines) == OUTPUT_LINES
    assert all(len(line) <= 60 for line in lines[:-1])
    assert lines[-1].endswith("more characters: --format json has all of it)")
    assert " ".join(lines[:-1]) in LONG  # nothing lost before the cut

    store = make_store("cache:ping", "db:query", "db:size", degraded=("db:size",))
    record(store, "cache:ping", Status.PASS, "PONG")
    record(store, "db:size", Status.FAIL, "too big")
    record(store, "db:query", Status.FAIL, "x" * 30 + " " + "y" * 100 + " tail")
    lines = table(store, list(store.states.values()), 0.25, columns=100).splitlines()
    query = next(i for i, line in enumerate(lines) if line.startswith("  db:query"))
    indent = lines[query].index("xxx")
    assert lines[query + 1].startswith(" " * indent + "y" * 10)  # wrapped under the OUTPUT column
    assert lines[query + 2].strip().endswith("y tail")  # a word longer than the column is broken, not cut
    # The blocking check before the warning one, before the passing ones; the summary names it.
    rows = [line.split()[0] for line in lines if line.startswith("  ") and not line.startswith("   ")]
    assert rows == ["db:query", "db:size", "cache:ping"]
    assert lines[-1] == "NOT READY: db:query blocks readiness; 1 of 3 checks ok, 1 warns, in 250 ms"
    assert "\033[" not in "\n".join(lines)


def run_on_terminal(args: list[str], **extra: str) -> tuple[int, str]:
    """`vigil` with stdout on a pseudo-terminal: its exit status and what the terminal received."""
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(
            [VIGIL, *args], stdout=terminal, stderr=subprocess.PIPE, env=env(**extra), timeout=60, check=False
        )
        os.close(terminal)
        seen = b""
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: the other end is closed and drained
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(controller)
    return done.returncode, seen.decode()


def test_vigil_check_lists_what_blocks_first_and_colours_on_a_terminal_only(tmp_path: Path, http_target: Any) -> None:
    config = write(
        tmp_path,
        {
            "defaults": FAST,
            "components": {
                "api": http(http_target.url, ok=reach("/ok"), teapot=reach("/status/418", severity="degraded")),
                "web": http(http_target.url, home=reach("/status/500")),
            },
        },
    )
    piped = subprocess.run(
        [VIGIL, "check", "--config", config], capture_output=True, text=True, env=env(), timeout=60, check=False
    )
    assert piped.returncode == 1
    lines = piped.stdout.splitlines()
    assert [line.split()[0] for line in lines[2:5]] == ["web:home", "api:teapot", "api:ok"]
    assert lines[-1].startswith("NOT READY: web:home blocks readiness; 1 of 3 checks ok, 1 warns, in ")
    assert "\033[" not in piped.stdout  # a pipe gets no colour

    code, coloured = run_on_terminal(["check", "--config", config])
    assert code == 1
    assert "\033[31mFAIL" in coloured and "\033[32mPASS" in coloured
    assert "\033[31mNOT READY: web:home blocks readiness" in coloured
    code, plain = run_on_terminal(["check", "--config", config], NO_COLOR="1")
    assert code == 1
    assert "\033[" not in plain and "NOT READY: web:home blocks readiness" in plain
