"""The service's HTTP side (stdlib server, Prometheus exposition): /healthz, /readyz, /metrics, /api/cameras,
/api/events?camera=&label=&since=, /api/events/ID/clip.mp4 and /snapshot.jpg, /api/CAMERA/latest.jpg.
Bound to 127.0.0.1 unless told otherwise; beyond loopback every endpoint but /healthz needs the bearer token."""

from __future__ import annotations

import hmac
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import cv2
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
            if path == "/api/events":
                return self._events(parse_qs(urlsplit(self.path).query))
            if (m := re.fullmatch(r"/api/events/(\d+)/(clip\.mp4|snapshot\.jpg)", path)) is not None:
                return self._event_file(int(m.group(1)), m.group(2))
            if (m := re.fullmatch(r"/api/([A-Za-z0-9_-]+)/latest\.jpg", path)) is not None:
                return self._latest(m.group(1))
            return self._send(404, b'{"error": "no such endpoint"}', "application/json")

        def _events(self, query: dict) -> None:
            try:
                since = float(query["since"][0]) if "since" in query else None
            except ValueError:
                return self._send(400, b'{"error": "since: seconds since the epoch"}', "application/json")
            found = service.store.query(query.get("camera", [None])[0], query.get("label", [None])[0], since)
            return self._send(200, json.dumps(found).encode(), "application/json")

        def _event_file(self, event_id: int, what: str) -> None:
            event = service.store.get(event_id)
            if event is None:
                return self._send(404, b'{"error": "no such event"}', "application/json")
            if what == "clip.mp4":
                name, kind = event.get("clip"), "video/mp4"
            else:
                name, kind = (event.get("snapshot") or {}).get("frame"), "image/jpeg"
            if not name or not Path(name).is_file():
                return self._send(404, b'{"error": "not recorded (yet)"}', "application/json")
            return self._send(200, Path(name).read_bytes(), kind)

        def _latest(self, camera: str) -> None:
            sink = service.latest.get(camera)
            if sink is None or sink.latest is None:
                return self._send(404, b'{"error": "no frame from this camera yet"}', "application/json")
            ok, jpeg = cv2.imencode(".jpg", sink.latest, [cv2.IMWRITE_JPEG_QUALITY, 85])
            return self._send(200, jpeg.tobytes(), "image/jpeg")

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
