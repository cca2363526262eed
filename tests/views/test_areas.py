"""The production-readiness view: every check in one of five areas, verdicts per area, and `depends_on`
naming the likely root cause of a cascade."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.config.settings import ConfigError, load_settings
from app.config.specs import resolve
from app.model import Status
from devenv.servers import free_port
from tests.conftest import http, make_settings, reach, serve

VIGIL = str(Path(sys.executable).with_name("vigil"))
FAST = {"interval": "2s", "timeout": "500ms", "failure_threshold": 1, "jitter": 0}


def stack(http_target: Any) -> dict[str, Any]:
    """db (down) <- api (down, depends on db); web (up); one security-area check."""
    closed = f"http://127.0.0.1:{free_port()}"
    return {
        "defaults": FAST,
        "server": {"show_details": "always"},
        "components": {
            "db": http(closed, ping=reach("/", area="database")),
            "api": {**http(closed, health=reach("/health")), "depends_on": ["db"]},
            "web": http(http_target.url, home=reach("/ok"), headers=reach("/ok", area="security")),
        },
    }


def test_areas_default_by_kind_and_type_and_can_be_set() -> None:
    settings = make_settings(
        components={
            "cache": {"type": "redis", "checks": {"connectivity": {}, "memory": {}}},
            "ch": {
                "type": "clickhouse",
                "checks": {"connectivity": {}, "perf": {"kind": "query_performance", "queries": {"q": "SELECT 1"}}},
            },
            "api": http("http://127.0.0.1:1/", ok=reach("/"), sec=reach("/", area="security")),
        }
    )
    areas = {str(spec.id): spec.area.value for spec in resolve(settings)}
    assert areas == {
        "cache:connectivity": "redis",
        "cache:memory": "redis",
        "ch:connectivity": "database",
        "ch:perf": "performance",
        "api:ok": "communication",
        "api:sec": "security",
    }


@pytest.mark.parametrize(
    ("components", "problem"),
    [
        (
            {"a": {"type": "http", "url": "http://x/", "depends_on": ["nope"]}},
            "components.a.depends_on: no component named 'nope'",
        ),
        (
            {"a": {"type": "http", "url": "http://x/", "depends_on": ["a"]}},
            "components.a.depends_on: a component cannot depend on itself",
        ),
        (
            {
                "a": {"type": "http", "url": "http://x/", "depends_on": ["b"]},
                "b": {"type": "http", "url": "http://x/", "depends_on": ["a"]},
            },
            "components.a.depends_on: a dependency cycle: a -> b -> a",
        ),
    ],
)
def test_depends_on_is_validated(tmp_path: Path, components: dict[str, Any], problem: str) -> None:
    path = tmp_path / "vigil.yaml"
    path.write_text(yaml.safe_dump({"components": components}))
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert caught.value.problems[0] == problem


async def test_health_grouped_by_area_and_affected_by(http_target: Any) -> None:
    async with serve(make_settings(**stack(http_target))) as served:
        await served.wait(lambda: served.store.startup_complete, what="first runs")
        status, body, _ = await served.get("/health?group=area")
        assert status == 503
        document = json.loads(body)
        assert document["areas"] == {
            "database": {"title": "database connectivity", "status": "fail", "checks": ["db:ping"]},
            "security": {"title": "security configuration", "status": "pass", "checks": ["web:headers"]},
            "communication": {
                "title": "cross-service communication",
                "status": "fail",
                "checks": ["api:health", "web:home"],
            },
        }
        api = document["checks"]["api:health"][0]
        assert api["affectedBy"] == ["db"] and api["area"] == "communication"
        assert api["output"].endswith("(dependency db is failing)")
        assert "affectedBy" not in document["checks"]["db:ping"][0]
        status, body, _ = await served.get("/health/web?group=area")
        assert status == 200 and set(json.loads(body)["areas"]) == {"security", "communication"}
        assert (await served.get("/health?group=nope"))[0] == 400


def test_vigil_check_groups_by_area_and_lists_root_causes_first(tmp_path: Path, http_target: Any) -> None:
    config = tmp_path / "vigil.yaml"
    data = stack(http_target)
    # api is listed first in the config, yet its failure is explained by db's: db is the root cause.
    data["components"] = {"api": data["components"]["api"], **data["components"]}
    config.write_text(yaml.safe_dump(data))
    env = {"PATH": "/usr/bin:/bin"}
    table = subprocess.run(
        [VIGIL, "check", "--config", str(config)], capture_output=True, text=True, env=env, timeout=60
    )
    assert table.returncode == 1, table.stderr
    lines = table.stdout.splitlines()
    assert lines[1] == "database connectivity: FAIL (0 of 1 ok)"
    # Areas with a check blocking readiness first (database, communication), then the passing security area.
    rows = [line for line in lines if line.startswith("  ") and not line.startswith("   ")]  # not wrapped outputs
    assert [line.split()[0] for line in rows] == [
        "db:ping",
        "api:health",
        "web:home",
        "web:headers",
    ]
    assert lines[-1].startswith("NOT READY: db:ping, api:health block readiness; 2 of 4 checks ok, in ")
    assert "root causes: db:ping" in lines
    junit = subprocess.run(
        [VIGIL, "check", "--format", "junit", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    root = ET.fromstring(junit.stdout.split("\n", 1)[1])
    suites = {suite.get("name"): suite for suite in root.findall("testsuite")}
    assert list(suites) == ["vigil.database", "vigil.security", "vigil.communication"]
    assert [c.get("name") for c in suites["vigil.communication"].findall("testcase")] == ["health", "home"]
    failure = suites["vigil.communication"].find("testcase/failure")
    assert failure is not None and failure.get("message", "").endswith("(dependency db is failing)")
    document = json.loads(
        subprocess.run(
            [VIGIL, "check", "--format", "json", "--config", str(config)],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        ).stdout
    )
    assert document["areas"]["database"]["status"] == Status.FAIL.value
    assert document["checks"]["api:health"][0]["area"] == "communication"
