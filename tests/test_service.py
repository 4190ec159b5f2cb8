"""kestrel serve with real parts: RTSP test servers as cameras on 127.0.0.1, the real HTTP side, Prometheus's
own parser; a camera's server killed and restarted while the other camera goes on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.test_video import free_port

pytest.importorskip("gi", reason="needs GStreamer's Python bindings (PyGObject)")


def start_serve(tmp_path, config: dict) -> subprocess.Popen:
    """`kestrel serve` on ``config`` (written to tmp_path/serve.yaml), as a subprocess."""
    (tmp_path / "serve.yaml").write_text(yaml.safe_dump(config))
    return subprocess.Popen([sys.executable, "-m", "app.cli", "serve", str(tmp_path / "serve.yaml")], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


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


def wait_for(predicate, timeout: float, step: float = 0.3) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except OSError:
            pass
        time.sleep(step)
    return False


def test_two_cameras_one_detector_metrics_and_five_camera_outages(tmp_path):
    import paho.mqtt.client as mqtt
    from prometheus_client.parser import text_string_to_metric_families

    ports = [free_port(), free_port()]
    servers = [rtsp_server(p) for p in ports]
    http, mqtt_port = free_port(), free_port()
    broker = start_broker(tmp_path, mqtt_port)
    statuses: list[tuple[str, str]] = []
    consumer = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="kestrel-test-status")
    consumer.on_connect = lambda c, *_: c.subscribe("kestrel/+/status", qos=1)
    consumer.on_message = lambda c, u, m: statuses.append((m.topic.split("/")[1], m.payload.decode()))
    consumer.connect("127.0.0.1", mqtt_port)
    consumer.loop_start()
    config = {"detect": {"fps": 5}, "http": {"port": http}, "storage": {"path": str(tmp_path / "data")},
              "mqtt": {"host": "127.0.0.1", "port": mqtt_port},
              "cameras": {"door": {"source": f"rtsp://127.0.0.1:{ports[0]}/stream"},
                          "yard": {"source": f"rtsp://127.0.0.1:{ports[1]}/stream", "detect": {"fps": 2}}}}  # fmt: skip
    serve = start_serve(tmp_path, config)
    base = f"http://127.0.0.1:{http}"

    def cameras() -> dict:
        return {c["name"]: c for c in json.loads(get(base + "/api/cameras")[1])}

    door_progress = []
    try:
        assert wait_for(lambda: get(base + "/readyz")[0] == 200, 60), "the service never became ready"
        assert get(base + "/healthz") == (200, b"ok\n")
        for flap in range(5):  # the yard camera goes away and comes back, five times
            servers[1].kill()
            servers[1].wait()
            assert wait_for(lambda: not cameras()["yard"]["streaming"], 20), f"outage {flap + 1} not noticed"
            door_progress.append(cameras()["door"]["frames_detected"])
            servers[1] = rtsp_server(ports[1])
            assert wait_for(lambda n=flap + 1: cameras()["yard"]["reconnects"] == n, 30), f"no resume {flap + 1}"
        time.sleep(3)
        final = cameras()
        metrics = {(s.name, s.labels.get("camera")): s.value
                   for family in text_string_to_metric_families(get(base + "/metrics")[1].decode())
                   for s in family.samples}  # fmt: skip
        wait_for(lambda: statuses.count(("yard", "online")) >= 6, 10)
    finally:
        serve.send_signal(2)
        out, err = serve.communicate(timeout=60)
        for s in servers:
            s.kill()
        consumer.loop_stop()
        broker.stop()
    assert serve.returncode == 0, err[-2000:]
    assert final["yard"]["streaming"] and final["yard"]["reconnects"] == 5
    # the other camera is unaffected: never reconnected, detecting all along
    assert final["door"]["reconnects"] == 0 and door_progress == sorted(door_progress)
    assert door_progress[-1] > door_progress[0] and final["door"]["frames_detected"] > door_progress[-1]
    for name in ("door", "yard"):
        detected = final[name]["frames_detected"]
        assert metrics[("kestrel_frames_detected_total", name)] == pytest.approx(detected, abs=3)
        assert metrics[("kestrel_frames_decoded_total", name)] > metrics[("kestrel_frames_detected_total", name)]
    assert metrics[("kestrel_detector_batch_size_count", None)] > 0
    assert metrics[("process_resident_memory_bytes", None)] > 50e6  # the process's own memory, for long runs
    # 15 fps cameras sampled at 5 and 2 fps: detection follows the configured rates
    ratio = final["door"]["frames_detected"] / max(final["yard"]["frames_detected"], 1)
    assert 1.5 < ratio < 4.0
    notices = [json.loads(line) for line in (tmp_path / "data" / "events" / "yard.jsonl").read_text().splitlines()]
    assert [n["type"] for n in notices if n["type"].startswith("source_")] == ["source_lost", "source_back"] * 5
    # MQTT: each camera online at start; the yard offline and online again at each outage, in that order
    assert [s for c, s in statuses if c == "yard"] == ["online"] + ["offline", "online"] * 5
    assert [s for c, s in statuses if c == "door"] == ["online"]


@pytest.mark.parametrize("change, fragment", [
    ({"cameras": {"a": {"source": "test", "colour": 1}}}, "cameras.a.colour: unknown field"),
    ({"http": {"bind": "0.0.0.0"}}, "set http.token"),
    ({"detect": {"fps": 0}}, "fps must be in (0, 60]"),
    ({"cameras": {}}, "at least one camera"),
    ({"cameras": {"a": {"source": "test", "classes": ["unicorn"]}}}, "unknown class 'unicorn'"),
    ({"batch": {"max_frames": 65}}, "max_frames must be in 0..64"),
    ({"fallback": "assets/kestrel-lite0-320.onnx"}, "only a triton:// model has a fallback"),
    ({"model": "triton://127.0.0.1:1/m", "fallback": "missing.onnx"}, "fallback: missing.onnx not found"),
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


def start_broker(folder, port: int):
    from tests.mqtt_broker import Broker, BrokerMissing

    try:
        return Broker(folder, port)
    except BrokerMissing as exc:
        pytest.skip(str(exc))


def test_events_reach_mqtt_in_order_after_a_broker_outage(tmp_path):
    import paho.mqtt.client as mqtt

    port, http = free_port(), free_port()
    broker = start_broker(tmp_path, port)
    received: list[dict] = []
    consumer = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="kestrel-test-consumer", clean_session=False)
    consumer.on_connect = lambda c, *_: c.subscribe("kestrel/events", qos=1)
    consumer.on_message = lambda c, u, m: received.append(json.loads(m.payload))
    consumer.reconnect_delay_set(0.2, 1)
    consumer.connect("127.0.0.1", port)
    consumer.loop_start()
    time.sleep(1)
    broker.stop()  # the broker is down while the camera produces its events
    config = {"detect": {"fps": 5}, "http": {"port": http}, "storage": {"path": str(tmp_path / "data")},
              "mqtt": {"host": "127.0.0.1", "port": port},
              "cameras": {"hall": {"source": str(ROOT / "assets" / "sample.mp4")}}}  # fmt: skip
    serve = start_serve(tmp_path, config)
    events_file = tmp_path / "data" / "events" / "hall.jsonl"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # the whole clip is processed, every event waits in the outbox
            lines = events_file.read_text().splitlines() if events_file.exists() else []
            if any(json.loads(x).get("type") == "end" for x in lines) and len(lines) > 5:
                break
            time.sleep(0.5)
        time.sleep(2)
        queued = dict(line.split(" ") for line in get(f"http://127.0.0.1:{http}/metrics")[1].decode().splitlines()
                      if line.startswith("kestrel_mqtt_queued"))  # fmt: skip
        broker.start()  # the broker is back: the outbox drains
        generated = [json.loads(x) for x in events_file.read_text().splitlines()]
        generated = [e for e in generated if e.get("type") in ("new", "update", "end")]
        deadline = time.monotonic() + 60
        while len(received) < len(generated) and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)
        listed = json.loads(get(f"http://127.0.0.1:{http}/api/events?camera=hall")[1])
    finally:
        serve.send_signal(2)
        serve.communicate(timeout=60)
        consumer.loop_stop()
        broker.stop()
    assert float(queued["kestrel_mqtt_queued"]) >= len(generated) > 0  # all of them waited while the broker was down
    delivered = [(m["type"], m["after"]["id"]) for m in received if m["type"] in ("new", "update", "end")]
    assert delivered == [(e["type"], e["id"]) for e in generated]  # every one, in order, none twice
    ends = [m for m in received if m["type"] == "end"]
    assert all(m["before"] is not None and m["before"]["id"] == m["after"]["id"] for m in ends)
    assert [(e["type"], e["id"]) for e in listed if e["type"] in ("new", "update", "end")] == delivered  # same as MQTT


ROLL_S = 1  # pre- and post-roll: short, so that people who leave the 10 s loop before its end have whole clips


def test_each_end_event_has_a_clip_of_the_cameras_own_stream_spanning_pre_and_post(tmp_path):
    """A looping RTSP camera of people (the sample clip: H.264, 1 s GOP, no B-frames); clips cut from its own
    stream's segments without re-encoding."""
    from app.capture.gst_capture import GstCapture
    from app.capture.spec import SourceSpec

    clip = ROOT / "assets" / "sample.mp4"
    port, http = free_port(), free_port()
    server = subprocess.Popen([sys.executable, "-m", "tests.rtsp_server", str(port), str(clip)], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert server.stdout.readline().strip() == "ready"
    config = {"detect": {"fps": 5}, "http": {"port": http}, "storage": {"path": str(tmp_path / "data")},
              "cameras": {"hall": {"source": f"rtsp://127.0.0.1:{port}/stream", "classes": ["person"],
                                   "record": {"pre_s": ROLL_S, "post_s": ROLL_S}}}}  # fmt: skip
    serve = start_serve(tmp_path, config)
    events_file = tmp_path / "data" / "events" / "hall.jsonl"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            ends = [e for e in map(json.loads, events_file.read_text().splitlines()) if e.get("type") == "end"] \
                if events_file.exists() else []  # fmt: skip
            if sum(Path(e["clip"]).exists() for e in ends) >= 4:
                break
            time.sleep(1)
        cut_while_running = {e["id"] for e in ends if Path(e["clip"]).exists()}
        base = f"http://127.0.0.1:{http}"
        listed = {e["id"]: e["event"] for e in json.loads(get(base + "/api/events?camera=hall&label=person")[1])
                  if e["type"] == "end"}  # fmt: skip
        served = {oid: get(f"{base}/api/events/{number}/clip.mp4") for oid, number in listed.items()}
        latest = get(base + "/api/hall/latest.jpg")
    finally:
        serve.send_signal(2)
        serve.communicate(timeout=60)
        server.kill()
    # clips cut while the camera ran on (those cut at the stop lack the post-roll still being recorded), of
    # objects whose window stays within one pass of the 10 s clip the server loops (across its restart the joined
    # file ends: a seam a real camera does not have, like the seam of a reconnect, which clips do not bridge yet)
    done = [e for e in ends if e["id"] in cut_while_running
            and int(max(e["first_pts_s"] - ROLL_S, 0) // 10) == int((e["last_pts_s"] + ROLL_S) // 10)]  # fmt: skip
    assert done, "no clip was cut"
    assert latest[0] == 200 and latest[1][:2] == b"\xff\xd8"  # a JPEG of the camera's newest frame
    for e in done:
        if e["id"] in served and served[e["id"]][0] == 200:
            assert served[e["id"]][1] == Path(e["clip"]).read_bytes()  # /api/events/N/clip.mp4 is that clip
    for e in done:
        # its length in frames of the 10 fps camera (the looping test server restarts the clip's picture order at
        # each loop, which the joined file's timestamps follow; a real camera does not loop)
        length = len(list(GstCapture(SourceSpec.parse(e["clip"])).open())) / 10.0
        expected = e["last_pts_s"] + ROLL_S - max(e["first_pts_s"] - ROLL_S, 0.0)  # no pre-roll before the start
        assert expected - 1.5 <= length <= expected + 1.5, (e["id"], length, expected)  # a GOP (1 s) at each end


def test_retention_deletes_old_and_oldest_files_first_but_never_events_or_the_ring(tmp_path):
    import os

    from app.service.retention import enforce

    now = time.time()
    files = {}
    for i, (where, age_days) in enumerate([("clips/a/1.mp4", 9), ("clips/a/2.mp4", 3), ("clips/b/3.mp4", 2),
                                           ("events/a-snapshots/3-crop.jpg", 1), ("clips/a/4.mp4.partial", 20),
                                           ("segments/a/c0001-000001.mp4", 30), ("events/a.jsonl", 30)]):  # fmt: skip
        path = tmp_path / where
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 1000 * (i + 1))
        os.utime(path, (now - age_days * 86400, now - age_days * 86400))
        files[where] = path
    deleted = {p.relative_to(tmp_path).as_posix() for p in enforce(tmp_path, 7, 0, now)}
    assert deleted == {"clips/a/1.mp4"}  # older than 7 days; the partial, the ring and events are kept
    total = sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file())
    quota_gb = (total - 3500) / 0.9 / 1e9  # over 90 % of the quota by 3500 bytes
    deleted = {p.relative_to(tmp_path).as_posix() for p in enforce(tmp_path, 0, quota_gb, now)}
    assert deleted == {"clips/a/2.mp4", "clips/b/3.mp4"}  # the oldest first, until under 90 % of the quota
    assert enforce(tmp_path, 0, quota_gb, now) == []  # under it: nothing more goes
    assert files["events/a.jsonl"].exists() and files["segments/a/c0001-000001.mp4"].exists()


def test_the_shared_detector_batches_only_where_batching_pays():
    """One call per frame on the CPU (benchmarks/serve_capacity.py measured no gain from batches of 8 there)."""
    from app.commands.run_cmd import LABEL_IOU
    from app.models import DEFAULT
    from app.service.batcher import default_batch
    from detector.detector import Detector

    assert default_batch(Detector.load(DEFAULT, label_iou=LABEL_IOU)) == 1

    class Remote:  # a detector without an ONNX Runtime session: a GPU backend or a Triton server
        backend = object()

    assert default_batch(Remote()) == 8


def test_the_service_tunes_glibc_and_trims_freed_memory():
    """Frame buffers stay mmapped, arenas are capped (app/service/memory.py), and a trim returns freed heap
    pages: 80 MB of small blocks malloc'd and freed leave the resident size high until release_free_memory."""
    import ctypes
    import platform

    from app.service.memory import release_free_memory, tune_allocator

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("glibc only")
    assert tune_allocator() is True

    def rss_mb() -> float:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = [libc.malloc(8192) for _ in range(10_000)]
    for b in blocks:
        ctypes.memset(b, 1, 8192)
    keep = libc.malloc(64)  # a live block above them: the heap top cannot simply shrink
    for b in blocks:
        libc.free(b)
    before = rss_mb()
    unchanged = rss_mb()  # nothing gives the pages back by itself
    assert release_free_memory() is True
    after = rss_mb()
    libc.free(keep)
    assert before - unchanged < 5 and before - after > 40, (before, unchanged, after)
