"""Logging: one handler, text or JSON, secrets masked everywhere, tracebacks kept for Vigil's own bugs."""

from __future__ import annotations

import dataclasses
import datetime
import io
import json
import logging
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.checks import CheckKind
from app.engine.scheduler import Runner
from app.logs import setup_logging
from app.main import build_engine
from app.masking import Scrubber
from app.model import CheckId, Outcome, Status
from devenv.servers import free_port
from tests.conftest import HttpTarget, http, make_settings, reach, run_check
from tests.test_cli import vigil, write

SECRET = "hunter2-log-secret-9f8e"


@pytest.fixture
def captured() -> Iterator[Any]:
    """Route Vigil's loggers to a buffer, as `vigil serve` routes them to stderr; undone afterwards."""
    handlers: list[logging.Handler] = []
    levels = {name: logging.getLogger(name).level for name in ("", "asynch", "redis", "aiohttp", "asyncio")}

    def capture(fmt: str) -> io.StringIO:
        stream = io.StringIO()
        handlers.append(setup_logging(fmt, "info", Scrubber([SECRET]), stream))
        return stream

    yield capture
    for name in ("vigil", "uvicorn", "uvicorn.error", ""):
        logger = logging.getLogger(name)
        for handler in handlers:
            if handler in logger.handlers:
                logger.removeHandler(handler)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_traceback_is_kept_and_masked(captured: Any, fmt: str) -> None:
    stream = captured(fmt)
    try:
        raise RuntimeError(f"cannot use redis://user:{SECRET}@db:6379/0")
    except RuntimeError:
        logging.getLogger("vigil.test").exception("something broke with %s", SECRET)
    text = stream.getvalue()
    assert SECRET not in text
    if fmt == "json":
        entry = json.loads(text)
        assert entry["msg"] == "something broke with ***"
        assert entry["traceback"].startswith("Traceback (most recent call last):")
        assert entry["traceback"].endswith("RuntimeError: cannot use redis://user:***@db:6379/0")
    else:
        assert "something broke with ***\nTraceback (most recent call last):" in text
        assert "in test_a_traceback_is_kept_and_masked\n    raise RuntimeError(" in text


async def test_a_bug_in_a_check_is_a_fail_and_a_logged_traceback(captured: Any) -> None:
    stream = captured("text")
    settings = make_settings(components={"api": http("http://127.0.0.1:1/", probe=reach("/"))})
    store, scheduler = build_engine(settings)
    spec = scheduler.specs[0]

    async def buggy(ctx: Any) -> Outcome:
        raise ZeroDivisionError(f"division by zero near {SECRET}")

    spec = dataclasses.replace(spec, kind=CheckKind(spec.kind.options, buggy))
    runner = Runner(spec, None, store, Scrubber([SECRET]))
    result = await runner.run(scheduled=False)
    assert (result.status, result.output) == (Status.FAIL, "ZeroDivisionError: division by zero near ***")
    text = stream.getvalue()
    assert "unexpected error in check api:probe" in text
    assert "Traceback (most recent call last):" in text and "in buggy" in text
    assert SECRET not in text
    assert store.states[CheckId("api", "probe")].last is result


async def test_a_client_that_fails_to_close_is_logged(captured: Any) -> None:
    stream = captured("text")
    settings = make_settings(components={"api": http("http://127.0.0.1:1/", probe=reach("/"))})
    _, scheduler = build_engine(settings)
    scheduler.build()

    async def broken_close(client: Any) -> None:
        raise OSError(f"socket already gone ({SECRET})")

    scheduler._closers["api"] = broken_close
    await scheduler.stop(grace=1.0)
    assert "closing the client of api failed: OSError('socket already gone (***)')" in stream.getvalue()


async def test_library_logs_go_through_vigils_handler_and_attempt_noise_is_cut(captured: Any) -> None:
    """asynch logged a raw `Failed to connect to ...` line per attempt, outside Vigil's format and mask."""
    stream = captured("json")
    closed = free_port()
    settings = make_settings(
        components={
            "ch": {
                "type": "clickhouse",
                "host": "127.0.0.1",
                "port": closed,
                "password": SECRET,
                "connect_timeout": 0.3,
                "socket_timeout": 0.5,
            }
        }
    )
    for _ in range(3):
        result = await run_check(settings, "ch", "connectivity")
        assert result.status is Status.FAIL
    logging.getLogger("asynch.proto.connection").warning("Failed to connect to %s:%s: %s", "h", 1, "refused")
    logging.getLogger("aiohttp.client").error("unexpected thing with password %s", SECRET)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert not any("Failed to connect" in line["msg"] for line in lines), lines
    assert not logging.getLogger("asynch.proto.connection").isEnabledFor(logging.WARNING)
    assert {"level": "error", "logger": "aiohttp.client", "msg": "unexpected thing with password ***"}.items() <= (
        lines[-1].items()
    )


def test_python_warnings_are_log_lines_too(tmp_path: Path) -> None:
    """cryptography warns when a certificate's name is longer than X.509 allows; the warning must not break the
    JSON log stream (or the text one) by going to stderr on its own."""
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.warns(UserWarning, match="length"):
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "long-" * 20, _validate=False)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    target = HttpTarget(context).start()
    try:
        for log_format in ("json", "text"):
            config = {
                "log_format": log_format,
                "components": {"web": {"type": "http", "url": target.url, "checks": {"tls": {}}}},
            }
            path = write(tmp_path, config)
            result = vigil("check", "--format", "json", "--config", path)
            assert result.returncode == 0, result.stderr  # the tls kind is degraded: it reports, never gates
            assert json.loads(result.stdout)["checks"]  # the report is whole
            lines = result.stderr.splitlines()
            assert lines, "the warning was not logged"
            if log_format == "json":
                for entry in map(json.loads, lines):  # every line is one JSON document
                    assert (entry["logger"], entry["level"]) == ("py.warnings", "warning")
                    assert entry["msg"].startswith("UserWarning: Attribute's length must be >= 1 and <= 64")
            else:  # one line per warning, not the warning's source line after it
                assert all(" WARNING py.warnings: UserWarning: Attribute's length" in line for line in lines), lines
    finally:
        target.stop()
