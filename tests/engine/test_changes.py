"""What a reload changes: checks compared by id, clients kept when their settings stay, settings only a restart
applies; and the store adopting the new checks (what each keeps)."""

from __future__ import annotations

import time
from typing import Any

from app.config.settings import Settings
from app.config.specs import resolve
from app.engine.changes import effective, plan, restart_only_changes
from app.engine.store import Store
from app.model import CheckId, CheckResult, Status
from tests.conftest import make_settings


def config(**components: Any) -> dict[str, Any]:
    return {"defaults": {"interval": "10s", "timeout": "2s"}, "components": components}


def redis(url: str = "redis://cache:6379/0", **checks: Any) -> dict[str, Any]:
    return {"type": "redis", "url": url, "checks": checks or {"connectivity": {}}}


def tcp(port: int = 5432, **checks: Any) -> dict[str, Any]:
    return {"type": "tcp", "host": "db", "port": port, "checks": checks or {"connect": {}}}


def ids(specs: Any) -> list[str]:
    return [str(spec.id) for spec in specs]


def test_checks_are_sorted_by_what_a_reload_does_with_them() -> None:
    old = make_settings(**config(cache=redis(), db=tcp(), gone=tcp()))
    new = make_settings(
        **config(
            cache=redis(connectivity={}, memory={"kind": "memory"}),  # a check added: the others stay the same
            db=tcp(connect={"timeout": "1s"}),  # its timeout changed
            fresh=tcp(),
        )
    )
    found = plan(resolve(old), resolve(new))
    assert ids(found.unchanged) == ["cache:connectivity"]
    assert ids(found.changed) == ["db:connect"]
    assert ids(found.added) == ["cache:memory", "fresh:connect"]
    assert [str(check_id) for check_id in found.removed] == ["gone:connect"]
    # db's fitted connect timeout follows its shortest check: its client's settings changed, cache's did not.
    assert found.kept_clients == {"cache"}
    assert found.summary() == {
        "added": ["cache:memory", "fresh:connect"],
        "changed": ["db:connect"],
        "removed": ["gone:connect"],
        "unchanged": 1,
    }


def test_a_client_setting_or_a_secret_changes_every_check_of_the_component() -> None:
    old = resolve(make_settings(**config(cache=redis(), db=tcp())))
    moved = plan(old, resolve(make_settings(**config(cache=redis("redis://cache2:6379/0"), db=tcp()))))
    assert ids(moved.changed) == ["cache:connectivity"] and moved.kept_clients == {"db"}
    secret = {**redis(), "password": "s3cret-one"}
    before = resolve(make_settings(**config(cache=secret)))
    rotated = plan(before, resolve(make_settings(**config(cache={**secret, "password": "s3cret-two"}))))
    assert ids(rotated.changed) == ["cache:connectivity"] and not rotated.kept_clients
    same = plan(before, resolve(make_settings(**config(cache=dict(secret)))))
    assert ids(same.unchanged) == ["cache:connectivity"] and same.empty


def test_dependencies_and_maintenance_windows_change_no_run() -> None:
    old = resolve(make_settings(**config(cache=redis(), db=tcp())))
    window = {
        "name": "upgrade",
        "start": "2026-12-05T01:00:00Z",
        "end": "2026-12-05T02:00:00Z",
        "components": ["cache"],
    }
    new_settings = make_settings(**config(cache=redis(), db={**tcp(), "depends_on": ["cache"]}), maintenance=[window])
    found = plan(old, resolve(new_settings))
    assert ids(found.unchanged) == ["cache:connectivity", "db:connect"]
    assert found.kept_clients == {"cache", "db"}
    assert found.unchanged[0].maintenance  # the new spec, with its window, is what readers will see


def test_settings_only_a_restart_applies_keep_their_running_values() -> None:
    running = make_settings(**config(cache=redis()), server={"port": 8080, "show_details": "always"})
    loaded = make_settings(
        **config(cache=redis()),
        server={"port": 9090, "show_details": "never", "max_headers": 50},
        shard={"index": 1, "count": 2},
        log_level="debug",
        reload={"watch": True},
    )
    assert restart_only_changes(running, loaded) == [
        "server.port",
        "server.max_headers",
        "shard.index",
        "shard.count",
        "log_level",
    ]
    applied = effective(running, loaded)
    assert isinstance(applied, Settings)
    assert applied.server.port == 8080 and applied.server.max_headers == running.server.max_headers
    assert applied.shard == running.shard and applied.log_level == "info"
    assert applied.server.show_details == "never" and applied.reload.watch  # these apply at once
    assert restart_only_changes(running, running) == []


def test_the_store_adopts_new_checks_keeping_what_each_may_keep() -> None:
    old = resolve(make_settings(**config(cache=redis(), db=tcp(), gone=tcp())))
    store = Store(old)
    now = time.time()
    for spec in old:
        status = Status.FAIL if spec.id.component == "gone" else Status.PASS
        store.record(CheckResult(spec.id.component, spec.id.check, spec.type.name, status, "x", (), now, 0.01), 1.0)
    cache, db = store.states[CheckId("cache", "connectivity")], store.states[CheckId("db", "connect")]
    version = store.version

    new = resolve(make_settings(**config(fresh=tcp(), db=tcp(connect={"timeout": "1s"}), cache=redis())))
    found = plan(old, new)
    store.adopt(new, [spec.id for spec in found.changed])
    assert [str(check_id) for check_id in store.states] == ["fresh:connect", "db:connect", "cache:connectivity"]
    assert store.states[CheckId("cache", "connectivity")] is cache and cache.runs[Status.PASS] == 1
    assert store.states[CheckId("db", "connect")] is db and db.reported is Status.PASS  # state and history kept
    assert db.spec.schedule.timeout == 1.0 and db.history.ratios(time.time())
    assert store.states[CheckId("fresh", "connect")].last is None  # pending
    assert CheckId("gone", "connect") not in store.states and "gone" not in store.by_component
    assert all(t.check_id.component != "gone" for t in store.recent_transitions())
    assert store.version > version
    assert not store.ready  # fresh (critical) is pending, exactly as at startup
