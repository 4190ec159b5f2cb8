"""kestrel serve with real parts: RTSP test servers as cameras on 127.0.0.1, the real HTTP side, Prometheus's
own parser; a camera's server killed and restarted while the other camera goes on."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

import pytest
import yaml

from tests.conftest import ROOT
from tests.test_video import free_port

pytest.importorskip("gi", reason="needs GStreamer's Python bindings (PyGObject)")


def rtsp_server(port: int) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-m", "tests.rtsp_server", str(port)], cwd=ROOT, stdout=subprocess.PIPE,
                         text=True)  # fmt: skip
    assert p.stdout.readline().strip() == "ready"
    return p


def get(url: str, token: str = "") -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_two_cameras_one_detector_metrics_and_a_camera_outage(tmp_path):
    from prometheus_client.parser import text_string_to_metric_families

    ports = [free_port(), free_port()]
    servers = [rtsp_server(p) for p in ports]
    http = free_port()
    config = {"detect": {"fps": 5}, "http": {"port": http}, "storage": {"path": str(tmp_path / "data")},
              "cameras": {"door": {"source": f"rtsp://127.0.0.1:{ports[0]}/stream"},
                          "yard": {"source": f"rtsp://127.0.0.1:{ports[1]}/stream", "detect": {"fps": 2}}}}  # fmt: skip
    (tmp_path / "serve.yaml").write_text(yaml.safe_dump(config))
    serve = subprocess.Popen([sys.executable, "-m", "app.cli", "serve", str(tmp_path / "serve.yaml")], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    base = f"http://127.0.0.1:{http}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if get(base + "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert get(base + "/healthz") == (200, b"ok\n")
        servers[1].kill()  # the yard camera goes away for a while...
        servers[1].wait()
        time.sleep(3)
        before = {c["name"]: c for c in json.loads(get(base + "/api/cameras")[1])}
        servers[1] = rtsp_server(ports[1])  # ...and comes back
        time.sleep(8)
        cameras = {c["name"]: c for c in json.loads(get(base + "/api/cameras")[1])}
        metrics = {(s.name, s.labels.get("camera")): s.value
                   for family in text_string_to_metric_families(get(base + "/metrics")[1].decode())
                   for s in family.samples}  # fmt: skip
    finally:
        serve.send_signal(2)
        out, err = serve.communicate(timeout=60)
        for s in servers:
            s.kill()
    assert serve.returncode == 0, err[-2000:]
    assert not before["yard"]["streaming"] and cameras["yard"]["streaming"] and cameras["yard"]["reconnects"] == 1
    assert cameras["door"]["reconnects"] == 0 and cameras["door"]["frames_detected"] > before["door"]["frames_detected"]
    for name in ("door", "yard"):
        detected = cameras[name]["frames_detected"]
        assert metrics[("kestrel_frames_detected_total", name)] == pytest.approx(detected, abs=3)
        assert metrics[("kestrel_frames_decoded_total", name)] > metrics[("kestrel_frames_detected_total", name)]
    assert metrics[("kestrel_detector_batch_size_count", None)] > 0
    # 15 fps cameras sampled at 5 and 2 fps: detection follows the configured rates
    ratio = cameras["door"]["frames_detected"] / max(cameras["yard"]["frames_detected"], 1)
    assert 1.5 < ratio < 4.0
    notices = [json.loads(line) for line in (tmp_path / "data" / "events" / "yard.jsonl").read_text().splitlines()]
    assert [n["type"] for n in notices if n["type"].startswith("source_")] == ["source_lost", "source_back"]


@pytest.mark.parametrize("change, fragment", [
    ({"cameras": {"a": {"source": "test", "colour": 1}}}, "cameras.a.colour: unknown field"),
    ({"http": {"bind": "0.0.0.0"}}, "set http.token"),
    ({"detect": {"fps": 0}}, "fps must be in (0, 60]"),
    ({"cameras": {}}, "at least one camera"),
    ({"cameras": {"a": {"source": "test", "classes": ["unicorn"]}}}, "unknown class 'unicorn'"),
])  # fmt: skip
def test_a_bad_service_config_is_one_error_line(tmp_path, change, fragment):
    config = {"cameras": {"a": {"source": "test"}}, **change}
    (tmp_path / "serve.yaml").write_text(yaml.safe_dump(config))
    done = subprocess.run([sys.executable, "-m", "app.cli", "serve", str(tmp_path / "serve.yaml")], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    errors = [line for line in done.stderr.splitlines() if line.startswith("kestrel: error:")]
    assert done.returncode == 2 and len(errors) == 1 and fragment in errors[0], done.stderr[-1000:]


def test_beyond_loopback_every_endpoint_but_healthz_needs_the_token(tmp_path):
    from app.service.http_api import make_server

    class Nothing:
        cameras: dict = {}
        registry = None

        def ready(self) -> bool:
            return True

    server = make_server(Nothing(), "127.0.0.1", 0, token="s3cret")
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert get(base + "/healthz")[0] == 200
        assert get(base + "/api/cameras")[0] == 401 and get(base + "/readyz")[0] == 401
        assert get(base + "/api/cameras", "s3cret") == (200, b"[]")
    finally:
        server.shutdown()
        server.server_close()
