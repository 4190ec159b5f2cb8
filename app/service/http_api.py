"""The service's HTTP side (stdlib server, Prometheus exposition): /healthz, /readyz, /metrics, /api/cameras.
Bound to 127.0.0.1 unless told otherwise; beyond loopback every endpoint but /healthz needs the bearer token."""

from __future__ import annotations

import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest


def make_server(service, bind: str, port: int, token: str = "") -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            path = self.path.split("?", 1)[0]
            if path != "/healthz" and token and not hmac.compare_digest(
                    self.headers.get("Authorization", ""), f"Bearer {token}"):  # fmt: skip
                return self._send(401, b'{"error": "a bearer token is required"}', "application/json")
            if path == "/healthz":
                return self._send(200, b"ok\n", "text/plain")
            if path == "/readyz":
                ready = service.ready()
                return self._send(200 if ready else 503, b"ready\n" if ready else b"starting\n", "text/plain")
            if path == "/metrics":
                return self._send(200, generate_latest(service.registry), CONTENT_TYPE_LATEST)
            if path == "/api/cameras":
                body = json.dumps([c.status() for c in service.cameras.values()]).encode()
                return self._send(200, body, "application/json")
            return self._send(404, b'{"error": "no such endpoint"}', "application/json")

        def _send(self, code: int, body: bytes, kind: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:  # requests are not logged
            pass

    server = ThreadingHTTPServer((bind, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="kestrel-http", daemon=True).start()
    return server
