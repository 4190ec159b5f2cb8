"""The video path with real GStreamer: capture, errors, crash-safe recording, RTSP reconnect, replay."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.conftest import ROOT, need_shared

pytest.importorskip("gi", reason="needs GStreamer's Python bindings (PyGObject)")

from app.capture.gst_capture import CaptureError, GstCapture  # noqa: E402
from app.capture.spec import SourceSpec, redact  # noqa: E402
from app.cli import main  # noqa: E402
from app.sinks.recorder import Recorder  # noqa: E402

SAMPLE = ROOT / "assets" / "sample.mp4"


def frames_of(path) -> list[int]:
    return [f.pts_ns for f in GstCapture(SourceSpec.parse(str(path))).open()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("clip, count, size, unique_pts", [
    ("dashcam-crash-320x180.mp4", 89, (180, 320), True),
    # MPEG-4 part 2 in AVI with packed B-frames: the file itself repeats timestamps
    ("bgs-cctv-highway-320x240.avi", None, (240, 320), False),
])  # fmt: skip
def test_files_decode_every_frame_with_increasing_timestamps(clip, count, size, unique_pts):
    cap = GstCapture(SourceSpec.parse(str(need_shared("data", "videos", clip)))).open()
    frames = list(cap)
    assert frames and frames[0].image.shape[:2] == size and frames[0].image.dtype == np.uint8
    if count:
        assert len(frames) == count
    pts = [f.pts_ns for f in frames]
    assert pts == sorted(pts)
    assert (len(set(pts)) == len(pts)) == unique_pts
    assert [f.index for f in frames] == list(range(len(frames)))


def test_the_sample_clip_is_ten_seconds_of_h264():
    pts = frames_of(SAMPLE)
    assert len(pts) == 100 and pts[-1] < 10e9


def test_credentials_never_appear_in_source_names():
    spec = SourceSpec.parse("rtsp://admin:hunter2@10.0.0.5:554/cam")
    assert "hunter2" not in spec.name and spec.name == "rtsp://***@10.0.0.5:554/cam"
    assert redact("http://u:p@h/x") == "http://***@h/x"
    # passwords holding '@' or '/', and credentials in the query, are all cut by parsing, not by a regex
    assert redact("rtsp://admin:p@ssw0rd@cam/x") == "rtsp://***@cam/x"
    assert redact("rtsp://admin:pa/ss@cam:554/x") == "rtsp://***@cam:554/x"
    assert redact("rtsp://cam/x?user=a&password=b&ch=1") == "rtsp://cam/x?user=***&password=***&ch=1"
    assert redact("rtsp://cam:554/stream@1") == "rtsp://cam:554/stream@1"  # no user info: nothing to hide
    from app.capture.redact import redact_text, strip_secrets

    assert strip_secrets("rtsp://u:p@cam/x?token=t&ch=2") == "rtsp://cam/x?ch=2"
    assert redact_text("could not open rtsp://u:s3cret@cam/x: refused") == "could not open rtsp://***@cam/x: refused"


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    from detector.ncnn.importer import import_ncnn

    out = tmp_path_factory.mktemp("m") / "plus320.onnx"
    import_ncnn(need_shared("weights", "nanodet", "nanodet-plus-m_320.param"), out)
    return out


def run_cli(args, capsys):
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err.strip().splitlines()


def test_bad_sources_give_one_clear_error_and_never_hang(model, tmp_path, capsys):
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(SAMPLE.read_bytes()[:20000])
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 50)
    port = free_port()
    cases = [(tmp_path / "missing.mp4", "no such file"), (truncated, "truncated.mp4"),
             (text, "unsupported or unrecognised"), (f"rtsp://127.0.0.1:{port}/none", "cannot reach RTSP")]  # fmt: skip
    for source, fragment in cases:
        t0 = time.monotonic()
        code, err = run_cli(["run", source, "--model", model, "--no-reconnect"], capsys)
        assert code == 2 and time.monotonic() - t0 < 30
        assert err[-1].startswith("kestrel: error:") and fragment in err[-1], (source, err)


def test_run_records_and_logs_events_with_source_timestamps(model, tmp_path, capsys):
    save, events = tmp_path / "out.mkv", tmp_path / "events.jsonl"
    code = main(["run", str(SAMPLE), "--model", str(model), "--save", str(save), "--events", str(events),
                 "--events-mode", "frames"])  # fmt: skip
    assert code == 0
    source_pts = frames_of(SAMPLE)
    assert len(frames_of(save)) == len(source_pts)
    lines = [rec for line in events.read_text().splitlines() if "frame" in (rec := json.loads(line))]
    assert lines and all(rec["pts_ns"] == source_pts[rec["frame"]] for rec in lines)
    assert any(d["label"] == "person" for rec in lines for d in rec["detections"])
    assert "processed 100 frames" in capsys.readouterr().out


def test_a_killed_recording_still_decodes_up_to_the_kill(tmp_path):
    out = tmp_path / "killed.mkv"
    script = (
        "import sys, numpy as np, time\n"
        "from app.sinks.recorder import Recorder\n"
        "r = Recorder(sys.argv[1], 320, 240, 30)\n"
        "for i in range(100000):\n"
        "    img = np.full((240, 320, 3), i % 255, np.uint8)\n"
        "    r.write(img, i * 33_333_333)\n"
        "    if i == 60: print('written', flush=True)\n"
        "    time.sleep(0.01)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(out)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "written"
    time.sleep(1.0)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    decoded = frames_of(out)
    assert len(decoded) >= 30  # most of what was written before the kill is playable


def test_replay_exports_exactly_the_frames_of_the_range(model, tmp_path, capsys):
    clip = need_shared("data", "videos", "highway-720p.mp4")
    export, events = tmp_path / "clip.mp4", tmp_path / "ev.jsonl"
    code = main(["replay", str(clip), "--model", str(model), "--start", "2", "--end", "4", "--export", str(export),
                 "--events", str(events)])  # fmt: skip
    assert code == 0
    source = frames_of(clip)
    expected = [p for p in source if 2e9 <= p < 4e9]
    assert frames_of(export) == [p - expected[0] for p in expected]
    logged = [json.loads(line)["pts_ns"] for line in events.read_text().splitlines()]
    assert logged and set(logged) <= set(expected)


def test_rtsp_run_survives_a_server_restart_with_monotonic_timestamps(model, tmp_path, capsys):
    port = free_port()
    url = f"rtsp://127.0.0.1:{port}/stream"

    def start_server():
        p = subprocess.Popen([sys.executable, "-m", "tests.rtsp_server", str(port)], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert p.stdout.readline().strip() == "ready"
        return p

    server = start_server()
    events, save = tmp_path / "ev.jsonl", tmp_path / "rec.mkv"
    t0 = time.monotonic()
    run = subprocess.Popen([sys.executable, "-m", "app.cli", "run", url, "--model", str(model), "--events",
                            str(events), "--events-mode", "frames", "--save", str(save), "--max-frames", "150",
                            "--conf", "0.01"], cwd=ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        time.sleep(4)
        server.kill()
        server.wait()
        time.sleep(2)
        server = start_server()
        out, err = run.communicate(timeout=120)
        wall = time.monotonic() - t0
    finally:
        run.kill()
        server.kill()
    assert run.returncode == 0, err
    assert "source lost" in err and "source back after" in err
    processed, dropped = (int(v) for v in re.search(r"processed (\d+) frames.*dropped (\d+)", out).groups())
    assert "reconnects 1" in out and processed + dropped == 150  # a live source drops what the model cannot take
    records = [json.loads(line) for line in events.read_text().splitlines()]
    kinds = [r.get("type") for r in records]
    assert kinds.count("source_lost") == 1 and kinds.count("source_back") == 1
    back = records[kinds.index("source_back")]
    assert back["gap_s"] >= 1.5  # the server was down ~2 s (plus the time to notice)
    pts = [r["pts_ns"] for r in records]
    assert pts == sorted(pts)  # notices and frames in one timeline (source_back carries its first frame's pts)
    frame_pts = [r["pts_ns"] for r in records if "frame" in r]
    assert all(b > a for a, b in zip(frame_pts, frame_pts[1:], strict=False))
    recorded = frames_of(save)
    assert len(recorded) == processed and all(b > a for a, b in zip(recorded, recorded[1:], strict=False))
    # the recording spans the wall-clock run (150 frames at 15 fps = 10 s of video, plus the outage)
    assert recorded[-1] / 1e9 > 9.0 + 1.5 and recorded[-1] / 1e9 < wall


@pytest.mark.skipif(shutil.which("gst-launch-1.0") is None, reason="needs gstreamer1.0-tools")
def test_test_pattern_source():
    cap = GstCapture(SourceSpec.parse("test"), test_frames=10).open()
    assert len(list(cap)) == 10


def test_recorder_refuses_unknown_containers(tmp_path):
    from detector.errors import KestrelError

    with pytest.raises(KestrelError, match="use .mkv, .ts or .mp4"):
        Recorder(tmp_path / "x.avi", 64, 64, 30)


def test_capture_error_type():
    with pytest.raises(CaptureError):
        GstCapture(SourceSpec("file", "/nonexistent/file.mp4", False)).open()


def test_annotated_rtsp_restream_can_be_watched(model, tmp_path):
    port = free_port()
    run = subprocess.Popen([sys.executable, "-m", "app.cli", "run", "test", "--model", str(model), "--rtsp-out",
                            str(port), "--max-frames", "450"], cwd=ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        time.sleep(3)
        cap = GstCapture(SourceSpec.parse(f"rtsp://127.0.0.1:{port}/kestrel"), open_timeout_s=20).open()
        frames = [cap.read(timeout_s=10) for _ in range(20)]
        cap.close()
    finally:
        run.send_signal(signal.SIGINT)
        out, err = run.communicate(timeout=60)
    assert all(f is not None for f in frames)
    assert frames[0].image.shape == (360, 640, 3)  # the test pattern's size, re-encoded
    assert run.returncode == 0, err


def test_a_malformed_model_after_gstreamer_started_is_an_error_not_an_abort(tmp_path):
    """GStreamer brings libunwind, which broke ONNX Runtime's C++ exceptions (abort) before app.gst fixed it."""
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00garbage" * 100)
    code = ("import sys\nfrom app.gst import gst\ngst()\nfrom detector.detector import Detector\n"
            "from detector.errors import ModelPackageError\n"
            "try:\n    Detector.load(sys.argv[1])\n"
            "except ModelPackageError as e:\n    print('refused:', e)\n")  # fmt: skip
    result = subprocess.run([sys.executable, "-c", code, str(bad)], cwd=ROOT, capture_output=True, text=True,
                            timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "refused:" in result.stdout and "bad.onnx" in result.stdout
