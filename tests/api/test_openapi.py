"""/openapi.json tells the truth: schemathesis (a real run, against the app on loopback) finds no 5xx and every
response conforming to the documented status codes, media types and bodies; no page Vigil serves needs the web."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import AUTH, http, make_settings, make_token, reach, serve

SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))


def settings_for(http_target: Any) -> Any:
    return make_settings(
        defaults={"interval": "2s", "timeout": "1s", "jitter": 0},
        server={"show_details": "when_authorized", "run_cooldown": "1s"},
        auth=AUTH,
        components={
            "api": http(http_target.url, ok=reach("/ok"), teapot=reach("/status/418", severity="degraded")),
            "web": http(http_target.url, home=reach("/ok")),
        },
    )


async def test_schemathesis_finds_no_server_error_and_no_undocumented_response(
    http_target: Any, tmp_path: Path
) -> None:
    assert shutil.which(SCHEMATHESIS), "schemathesis is a test dependency"
    # Real names for path parameters too, so the checks' own documents are exercised, not only 404s.
    (tmp_path / "schemathesis.toml").write_text('[parameters]\n"path.component" = "api"\n"path.check" = "ok"\n')
    async with serve(settings_for(http_target)) as served:
        await served.wait(lambda: served.store.startup_complete, what="first runs")
        command = [
            SCHEMATHESIS,
            "run",
            f"{served.url}/openapi.json",
            # A 503 is a documented answer of a health API; a 500 (or any status not documented) fails
            # status_code_conformance.
            "--checks",
            "status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance",
            "--max-examples",
            "10",
            "--workers",
            "1",
            "--request-timeout",
            "10",
            "--no-color",
            "--generation-deterministic",
            "--report-dir",
            str(tmp_path),
            "-H",
            f"Authorization: Bearer {make_token(expires_in=600)}",
        ]
        done = await asyncio.to_thread(
            subprocess.run, command, capture_output=True, text=True, timeout=300, cwd=tmp_path
        )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    tested = re.search(r"(\d+) generated", output)
    assert tested is not None and int(tested[1]) >= 50, output[-3000:]  # it really exercised the API
    operations = re.search(r"Tested: (\d+)", output)
    assert operations is not None and int(operations[1]) >= 13, output[-3000:]  # every documented operation
    assert re.search(r"\b\d+ passed\b", output) or "No issues found" in output, output[-3000:]


async def test_docs_pages_reference_no_other_host(http_target: Any) -> None:
    async with serve(settings_for(http_target)) as served:
        for page in ("/docs", "/redoc"):
            status, body, headers = await served.get(page)
            assert status == 200 and headers["content-type"].startswith("text/html")
            foreign = [u for u in re.findall(r"""(?:src|href)=["']([^"']+)""", body) if "//" in u]
            assert foreign == [], (page, foreign)
            assert "cdn." not in body and "fonts.googleapis" not in body
            for asset in re.findall(r"""(?:src|href)=["'](/[^"']+)""", body):
                async with served.session.get(served.url + asset) as response:
                    assert response.status == 200 and len(await response.read()) > 0, asset
        status, body, _ = await served.get("/openapi.json")
        assert status == 200 and '"422"' not in body and '"400"' in body
