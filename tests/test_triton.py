"""The Triton backend against a real Triton Inference Server on 127.0.0.1 (tests/triton_server.py: the
tritonserver binary of PyPI's nvidia-pytriton, Kestrel's model through Triton's Python backend and its dynamic
batching): the exported repository, parity with local ONNX Runtime, batching, the CLI, doctor, errors."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest

from tests.conftest import ROOT, need_shared
from tests.test_video import free_port

pytest.importorskip("tritonclient.grpc", reason="needs tritonclient (the triton extra)")
PACKAGE = ROOT / "assets" / "kestrel-lite0-320.onnx"


def kestrel(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


def export(repo, *extra: str) -> subprocess.CompletedProcess:
    return kestrel("export", str(PACKAGE), "--format", "triton", "-o", str(repo), "--name", "kestrel", *extra)


@pytest.fixture(scope="module")
def triton(tmp_path_factory):
    """A served repository: (gRPC URL, HTTP URL, the server)."""
    from tests.triton_server import TritonServer, TritonUnavailable

    work = tmp_path_factory.mktemp("triton")
    done = export(work / "repo", "--triton-backend", "python", "--queue-delay-us", "20000")
    assert done.returncode == 0, done.stderr
    grpc_port, http_port = free_port(), free_port()
    try:
        server = TritonServer(work / "repo", grpc_port, http_port, work)
        server.start()
    except TritonUnavailable as exc:
        pytest.skip(f"no Triton server here: {exc}")
    yield f"triton://127.0.0.1:{grpc_port}/kestrel", f"triton+http://127.0.0.1:{http_port}/kestrel", server
    server.stop()


def test_the_exported_repository_has_batching_instances_and_the_package_metadata(tmp_path):
    from detector.package import read_meta

    assert export(tmp_path / "repo").returncode == 0
    config = (tmp_path / "repo" / "kestrel" / "config.pbtxt").read_text()
    assert 'backend: "onnxruntime"' in config and "max_batch_size: 8" in config
    assert "dynamic_batching { max_queue_delay_microseconds: 2000 }" in config
    assert "instance_group [ { count: 1 kind: KIND_CPU } ]" in config
    assert 'dims: [ 3, 320, 320 ]' in config and 'key: "kestrel_meta"' in config
    assert (tmp_path / "repo" / "kestrel" / "1" / "model.onnx").read_bytes() == PACKAGE.read_bytes()
    assert read_meta(tmp_path / "repo" / "kestrel" / "1" / "model.onnx").class_names == read_meta(PACKAGE).class_names
    again = export(tmp_path / "repo")
    assert again.returncode == 2 and "--overwrite" in again.stderr  # never replaced silently
    bad = kestrel("export", str(PACKAGE), "--format", "triton", "-o", str(tmp_path / "r2"), "--name", "a b")
    assert bad.returncode == 2 and "letters, digits" in bad.stderr


def test_detections_through_the_server_equal_local_onnx_runtime(triton):
    """Parity on 20 COCO tiny val images (one call of 20: three requests of at most 8), gRPC and HTTP."""
    from detector.detector import Detector
    from detector.images import read_image

    images = [read_image(p) for p in sorted(need_shared("data", "coco", "tiny", "val2017").glob("*.jpg"))[:20]]
    local = Detector.load(PACKAGE, conf=0.05)
    expected = local(images)
    for url in triton[:2]:
        remote = Detector.load(url, conf=0.05)
        assert remote.class_names == local.class_names and remote.backend.max_batch == 8
        got = remote(images)
        assert sum(len(d) for d in got) > 100
        for a, b in zip(expected, got, strict=True):
            assert len(a) == len(b) and (a.class_ids == b.class_ids).all()
            if len(a):
                assert np.abs(a.scores - b.scores).max() <= 1e-5
                assert np.abs(a.boxes - b.boxes).max() <= 0.01


def test_concurrent_requests_are_batched_by_the_server(triton):
    import time

    import tritonclient.grpc as grpc

    from detector.detector import Detector

    url = triton[0]
    client = grpc.InferenceServerClient(url.split("/")[2])
    detectors = [Detector.load(url) for _ in range(6)]  # each checks the model once, before the count starts
    time.sleep(1)  # the server records a request's statistics just after answering it
    before = client.get_inference_statistics("kestrel", as_json=True)["model_stats"][0]
    image = np.full((240, 320, 3), 127, np.uint8)

    def work(d) -> None:
        for _ in range(5):
            d(image)

    threads = [threading.Thread(target=work, args=(d,)) for d in detectors]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(1)
    after = client.get_inference_statistics("kestrel", as_json=True)["model_stats"][0]
    inferences = int(after.get("inference_count", 0)) - int(before.get("inference_count", 0))
    executions = int(after.get("execution_count", 0)) - int(before.get("execution_count", 0))
    assert inferences == 30  # 6 clients x 5 single images
    assert executions < inferences  # dynamic batching ran several requests as one


def test_kestrel_run_and_doctor_use_the_server_and_a_dead_server_is_one_line(triton):
    grpc_url = triton[0]
    done = kestrel("run", str(ROOT / "assets" / "sample.mp4"), "--model", grpc_url, "--max-frames", "10")
    assert done.returncode == 0, done.stderr[-1500:]
    assert "backend triton (grpc" in done.stderr and "processed 10 frames" in done.stdout
    doctor = kestrel("doctor", "--triton", grpc_url)
    assert doctor.returncode == 0 and "model ready True" in doctor.stdout and "80 classes" in doctor.stdout
    dead = f"triton://127.0.0.1:{free_port()}/kestrel"
    failed = kestrel("run", str(ROOT / "assets" / "sample.mp4"), "--model", dead, "--max-frames", "10")
    errors = [line for line in failed.stderr.splitlines() if line.startswith("kestrel: error:")]
    assert failed.returncode == 2 and len(errors) == 1 and "unreachable" in errors[0], failed.stderr[-800:]
    assert kestrel("doctor", "--triton", dead).returncode == 1
    missing = kestrel("run", str(ROOT / "assets" / "sample.mp4"), "--model", grpc_url.replace("kestrel", "nope"))
    assert missing.returncode == 2 and "nope" in missing.stderr
    bad = kestrel("run", "test", "--model", "triton://127.0.0.1:1/")
    assert bad.returncode == 2 and "HOST:PORT/MODEL" in bad.stderr


def test_serve_falls_back_to_the_local_package_while_the_server_is_down_and_returns(triton, tmp_path):
    """Four RTSP cameras on the Triton backend; the server is killed for 15 s and restarted. Runs last: it
    restarts the module's server."""
    import json
    import time

    from prometheus_client.parser import text_string_to_metric_families

    from tests.test_service import get, start_serve, wait_for

    url, _, server = triton
    ports, http = [free_port() for _ in range(4)], free_port()
    clip = str(ROOT / "assets" / "sample.mp4")
    cameras = [subprocess.Popen([sys.executable, "-m", "tests.rtsp_server", str(p), clip], cwd=ROOT,
                                stdout=subprocess.PIPE, text=True) for p in ports]  # fmt: skip
    for c in cameras:
        assert c.stdout.readline().strip() == "ready"
    config = {"model": url, "fallback": str(PACKAGE), "detect": {"fps": 5}, "http": {"port": http},
              "storage": {"path": str(tmp_path / "data")},
              "cameras": {f"cam{i}": {"source": f"rtsp://127.0.0.1:{p}/stream", "record": {"events": False}}
                          for i, p in enumerate(ports)}}  # fmt: skip
    serve = start_serve(tmp_path, config)
    base = f"http://127.0.0.1:{http}"

    def status() -> dict:
        return {c["name"]: c for c in json.loads(get(base + "/api/cameras")[1])}

    def metric(name: str) -> float:
        text = get(base + "/metrics")[1].decode()
        return next(s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == name)

    try:
        assert wait_for(lambda: get(base + "/readyz")[0] == 200, 60), "not ready"
        time.sleep(10)
        assert metric("kestrel_detector_on_fallback") == 0.0
        before = status()
        server.stop()  # the server goes away for 15 s
        time.sleep(15)
        during = status()
        on_fallback = metric("kestrel_detector_on_fallback")
        server.start()
        assert wait_for(lambda: metric("kestrel_detector_on_fallback") == 0.0, 30), "never returned to the server"
        time.sleep(10)
        after = status()
        fallback_s = metric("kestrel_detector_fallback_seconds_total")
        switches = metric("kestrel_detector_fallbacks_total")
    finally:
        serve.send_signal(2)
        out, err = serve.communicate(timeout=60)
        for c in cameras:
            c.kill()
    assert serve.returncode == 0, err[-2000:]
    assert on_fallback == 1.0 and switches == 1 and 10.0 <= fallback_s <= 40.0
    assert "unavailable" in err and "answers again" in err
    for name in before:  # every camera kept being detected through the outage and after it, never interrupted
        assert during[name]["frames_detected"] - before[name]["frames_detected"] >= 0.6 * 15 * 5
        assert after[name]["frames_detected"] > during[name]["frames_detected"]
        assert after[name]["reconnects"] == 0 and after[name]["streaming"]
    import sqlite3

    written = sum(len((tmp_path / "data" / "events" / f"{name}.jsonl").read_text().splitlines()) for name in before)
    headers = len(before)  # one run header line per camera's file
    stored = sqlite3.connect(tmp_path / "data" / "events.sqlite").execute("SELECT COUNT(*) FROM events").fetchone()[0]
    assert stored == written - headers > 0  # every event the cameras wrote is in the store (/api/events)
