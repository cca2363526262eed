"""A private Alertmanager and a webhook receiver on loopback: the end of the alerting path, for tests.

`Alertmanager` runs Debian's `prometheus-alertmanager` (no gossip port) with a config whose receivers are
rewritten to post to a `WebhookReceiver`, which keeps every notification it is sent.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from devenv.servers import _Process, free_port, wait_for


class WebhookReceiver:
    """Alertmanager's webhook receiver: every POSTed notification kept, in order of arrival."""

    def __init__(self) -> None:
        self.notifications: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the handler's protocol)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.notifications.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/notify"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert of every notification so far, each with the notification's status beside its own."""
        with self._lock:
            return [alert for notification in self.notifications for alert in notification["alerts"]]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Alertmanager(_Process):
    """`prometheus-alertmanager` with `config`, every receiver pointed at `webhook`, timings made short."""

    name = "alertmanager"

    def __init__(self, config: dict[str, Any], webhook: str) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="vigil-alertmanager-"))
        self.config = self.for_test(config, webhook)

    @staticmethod
    def for_test(config: dict[str, Any], webhook: str) -> dict[str, Any]:
        """The same routes and inhibit rules; receivers replaced by the webhook, waits in seconds not minutes."""
        config = json.loads(json.dumps(config))
        config["receivers"] = [
            {"name": receiver["name"], "webhook_configs": [{"url": webhook, "send_resolved": True}]}
            for receiver in config["receivers"]
        ]

        def shorten(route: dict[str, Any]) -> None:
            for key, value in (("group_wait", "1s"), ("group_interval", "1s"), ("repeat_interval", "1h")):
                if key in route or route is config["route"]:
                    route[key] = value
            for child in route.get("routes", []):
                shorten(child)

        shorten(config["route"])
        config.get("global", {}).pop("slack_api_url", None)
        return config

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Alertmanager:
        (self.dir / "alertmanager.yml").write_text(yaml.safe_dump(self.config))
        with (self.dir / "alertmanager.log").open("w") as log:
            self.proc = subprocess.Popen(
                [
                    shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager",
                    f"--config.file={self.dir / 'alertmanager.yml'}",
                    f"--storage.path={self.dir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--cluster.listen-address=",
                ],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        wait_for(self._ready, 30, f"alertmanager on port {self.port}")
        return self

    def _ready(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"alertmanager exited: {(self.dir / 'alertmanager.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                return response.status == 200
        except OSError:
            return False

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts Alertmanager holds now, with their state (active, or suppressed by an inhibition or a silence)."""
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts", timeout=5) as response:
            return list(json.loads(response.read()))

    def cleanup(self) -> None:
        self.terminate()
        shutil.rmtree(self.dir, ignore_errors=True)
