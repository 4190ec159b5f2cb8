"""Nothing lost, nothing hangs: outputs that are inputs, sinks that fail, models that lie, timestamps across
reconnects, credentials, signals. Real GStreamer, real files, the real CLI as a subprocess (so a hang is a
test failure with a timeout, never a stuck suite)."""

from __future__ import annotations

import json
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, need_shared

pytest.importorskip("gi", reason="needs GStreamer's Python bindings (PyGObject)")

from app.capture.gst_capture import GstCapture  # noqa: E402
from app.capture.spec import SourceSpec  # noqa: E402

MODEL = ROOT / "assets" / "kestrel-lite0-320.onnx"
SAMPLE = ROOT / "assets" / "sample.mp4"


def kestrel(*args, timeout: float = 120, fsize: int | None = None) -> subprocess.CompletedProcess:
    def limit():  # a "full disk" for this process only: writes past the size fail with EFBIG
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return subprocess.run([sys.executable, "-m", "app.cli", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, preexec_fn=limit)  # fmt: skip


def one_error(result: subprocess.CompletedProcess, fragment: str) -> None:
    errors = [line for line in result.stderr.splitlines() if line.startswith("kestrel: error:")]
    assert result.returncode == 2, result.stderr[-1500:]
    assert "Traceback" not in result.stderr, result.stderr[-1500:]
    assert len(errors) == 1 and fragment in errors[0], result.stderr[-1500:]


def frames_of(path: Path) -> list[int]:
    return [f.pts_ns for f in GstCapture(SourceSpec.parse(str(path))).open()]


def whole_lines(path: Path) -> list[dict]:
    text = path.read_text()
    assert text == "" or text.endswith("\n"), "the events file ends mid-line"
    return [json.loads(line) for line in text.splitlines()]


# -- 1. outputs never overwrite inputs, nor existing files unasked ---------------------------------------------
def test_an_output_that_is_an_input_is_refused_and_the_input_survives(tmp_path):
    clip = tmp_path / "x.mp4"
    shutil.copy(SAMPLE, clip)
    before = clip.read_bytes()
    one_error(kestrel("run", clip, "--model", MODEL, "--save", clip, "--overwrite"), "also an input")
    image = tmp_path / "img.png"
    import cv2

    cv2.imwrite(str(image), (GstCapture(SourceSpec.parse(str(SAMPLE))).open().read().image))
    image_bytes = image.read_bytes()
    one_error(kestrel("detect", MODEL, image, "-o", image, "--overwrite"), "also an input")
    one_error(kestrel("export", MODEL, "--format", "onnx", "--fp16", "-o", MODEL, "--overwrite"), "also an input")
    assert clip.read_bytes() == before and image.read_bytes() == image_bytes
    assert frames_of(clip) == frames_of(SAMPLE)


def test_import_onto_its_own_weights_is_refused(tmp_path):
    for ext in (".param", ".bin"):
        shutil.copy(need_shared("weights", "nanodet", "nanodet-plus-m_320" + ext), tmp_path / ("m" + ext))
    weights = (tmp_path / "m.bin").read_bytes()
    one_error(kestrel("import", tmp_path / "m.param", "-o", tmp_path / "m.bin"), "also an input")
    assert (tmp_path / "m.bin").read_bytes() == weights


def test_existing_outputs_need_overwrite_and_events_can_append_with_a_header(tmp_path):
    events = tmp_path / "ev.jsonl"
    events.write_text('{"old": 1}\n')
    one_error(kestrel("run", SAMPLE, "--model", MODEL, "--events", events, "--max-frames", "5"), "exists")
    assert events.read_text() == '{"old": 1}\n'
    done = kestrel("run", SAMPLE, "--model", MODEL, "--events", events, "--max-frames", "5", "--append-events")
    assert done.returncode == 0, done.stderr
    lines = whole_lines(events)
    assert lines[0] == {"old": 1} and lines[1]["type"] == "run" and len(lines) > 2
    done = kestrel("run", SAMPLE, "--model", MODEL, "--events", events, "--max-frames", "5", "--overwrite")
    assert done.returncode == 0 and {"old": 1} not in whole_lines(events)
    out = tmp_path / "dets.jsonl"
    out.write_text("keep me\n")
    one_error(kestrel("detect", MODEL, need_shared("data", "coco", "tiny", "val2017").glob("*.jpg").__next__(), "-o",
                      out), "--overwrite")  # fmt: skip
    assert out.read_text() == "keep me\n"
    assert not [p for p in tmp_path.iterdir() if ".partial" in p.name]


# -- 2. a sink that cannot write ends the run at once, with every other output whole ----------------------------
@pytest.fixture(scope="module")
def odd_clip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("odd") / "odd.avi"
    subprocess.run(["gst-launch-1.0", "-q", "videotestsrc", "num-buffers=30", "!",
                    "video/x-raw,width=333,height=177,framerate=10/1", "!", "jpegenc", "!", "avimux", "!",
                    "filesink", f"location={out}"], check=True, timeout=60)  # fmt: skip
    return out


def test_odd_frame_sizes_are_recorded_and_exported(odd_clip, tmp_path):
    done = kestrel("run", odd_clip, "--model", MODEL, "--save", tmp_path / "o.mkv", timeout=60)
    assert done.returncode == 0, done.stderr
    assert len(frames_of(tmp_path / "o.mkv")) == 30
    done = kestrel("replay", odd_clip, "--model", MODEL, "--export", tmp_path / "o.mp4", timeout=60)
    assert done.returncode == 0, done.stderr
    assert len(frames_of(tmp_path / "o.mp4")) == 30


@pytest.mark.parametrize("target, fragment", [
    ("/proc/kestrel-test.mkv", "cannot write /proc/kestrel-test.mkv"),
    ("DIR", "is a directory"),
    ("out.avi", "use .mkv, .ts or .mp4"),
])  # fmt: skip
def test_an_unwritable_recording_is_one_error_within_seconds(odd_clip, tmp_path, target, fragment):
    target = tmp_path if target == "DIR" else tmp_path / target if not target.startswith("/") else Path(target)
    t0 = time.monotonic()
    one_error(kestrel("run", odd_clip, "--model", MODEL, "--save", target, timeout=60), fragment)
    assert time.monotonic() - t0 < 30


def test_a_full_disk_ends_the_run_with_one_error_and_whole_outputs(tmp_path):
    clip = need_shared("data", "videos", "highway-720p.mp4")
    save, events = tmp_path / "o.mkv", tmp_path / "ev.jsonl"
    t0 = time.monotonic()
    done = kestrel("run", clip, "--model", MODEL, "--save", save, "--events", events, fsize=600_000, timeout=90)
    one_error(done, "the disk is full")
    assert time.monotonic() - t0 < 60
    assert whole_lines(events)  # what was written is whole lines
    assert len(frames_of(save)) >= 5  # the recording decodes up to where the disk filled
    small = tmp_path / "ev2.jsonl"  # per-frame lines fill the events file itself (the limit is per file)
    done = kestrel("run", clip, "--model", MODEL, "--events", small, "--events-mode", "frames", fsize=200_000,
                   timeout=90)  # fmt: skip
    one_error(done, "the disk is full")
    assert whole_lines(small) and small.stat().st_size <= 200_000


def test_sigterm_while_the_disk_fills_exits_within_5_s_with_outputs_finalised(tmp_path):
    save, events = tmp_path / "o.mkv", tmp_path / "ev.jsonl"

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (4_000_000, 4_000_000))

    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "run", "test:snow", "--model", str(MODEL), "--save",
                             str(save), "--events", str(events), "--conf", "0.01"], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=limit)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (save.exists() and save.stat().st_size > 1_000_000) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert save.exists() and save.stat().st_size > 1_000_000, "the recording never grew"
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        took = time.monotonic() - t0
    finally:
        proc.kill()
    assert took < 5.0, (took, err[-1000:])
    assert proc.returncode in (0, 2) and "Traceback" not in err
    assert len(frames_of(save)) >= 10
    assert whole_lines(events)


# -- 3. a model whose graph and metadata disagree is refused at load ---------------------------------------------
def repackaged(tmp_path: Path, name: str, **changes) -> Path:
    import onnx

    from detector.package import METADATA_KEY

    proto = onnx.load(str(MODEL))
    entry = next(p for p in proto.metadata_props if p.key == METADATA_KEY)
    meta = json.loads(entry.value) | changes
    entry.value = json.dumps(meta)
    out = tmp_path / f"{name}.onnx"
    onnx.save(proto, str(out))
    return out


def unrelated_onnx(tmp_path: Path) -> Path:
    """A valid ONNX graph (a 3x3 average pool) carrying the bundled model's metadata."""
    import onnx
    from onnx import TensorProto, helper

    from detector.package import METADATA_KEY, read_meta

    node = helper.make_node("AveragePool", ["images"], ["output"], kernel_shape=[3, 3])
    graph = helper.make_graph([node], "pool", [helper.make_tensor_value_info("images", TensorProto.FLOAT,
                              ["N", 3, 320, 320])], [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, read_meta(MODEL).to_json()
    out = tmp_path / "unrelated.onnx"
    onnx.save(proto, str(out))
    return out


@pytest.mark.parametrize("case, fragment", [
    ({"input_width": 416, "input_height": 416}, "does not run on the 416x416 input"),
    ({"class_names": ["a", "b", "c"]}, "metadata implies [1, 2100, 35]"),
    ({"input_width": 60000}, "outside 1..4096"),
    ({"std": [0.0, 1.0, 1.0]}, "std positive"),
    ({"class_names": "person"}, "class_names must be a list"),
    ("unrelated", "the network outputs"),
])  # fmt: skip
def test_models_that_cannot_run_as_described_are_refused_in_one_line(tmp_path, case, fragment):
    model = unrelated_onnx(tmp_path) if case == "unrelated" else repackaged(tmp_path, "bad", **case)
    t0 = time.monotonic()
    one_error(kestrel("run", SAMPLE, "--model", model, timeout=60), fragment)
    assert time.monotonic() - t0 < 30


def test_a_failing_stage_stops_the_pipeline_with_its_error():
    from app.pipeline import Pipeline, Sink
    from detector.detector import Detector

    class FailsAtFive(Sink):
        def __init__(self) -> None:
            self.seen = 0

        def write(self, frame, detections, annotated) -> None:
            self.seen += 1
            if self.seen == 5:
                raise OSError(28, "No space left on device")

    class Counts(Sink):
        def __init__(self) -> None:
            self.seen, self.closed = 0, False

        def write(self, frame, detections, annotated) -> None:
            self.seen += 1

        def close(self) -> None:
            self.closed = True

    failing, counting = FailsAtFive(), Counts()
    pipeline = Pipeline(SourceSpec.parse(str(SAMPLE)), Detector.load(MODEL), [failing, counting])
    summary = pipeline.run()
    assert "No space left" in summary.error and failing.seen == 5
    assert counting.closed and 5 <= counting.seen < 100  # the run stopped early; the other sink was finalised


# -- 4. monotonic timestamps across RTSP reconnects: see tests/test_video.py::test_rtsp_run_survives_a_server_restart

# -- 6. signals, sources, the smaller cases -----------------------------------------------------------------------
def test_replay_stops_on_sigterm_and_finishes_its_export(tmp_path):
    clip = need_shared("data", "videos", "highway-720p.mp4")
    export = tmp_path / "cut.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "replay", str(clip), "--model", str(MODEL), "--speed",
                             "1", "--export", str(export)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (export.exists() and export.stat().st_size > 200_000) and time.monotonic() < deadline:
            time.sleep(0.05)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0 and time.monotonic() - t0 < 5, err[-1000:]
    replayed = int(re.search(r"replayed (\d+) frames", err).group(1))
    assert len(frames_of(export)) == replayed and replayed >= 10


def test_test_patterns_are_validated_and_never_reach_the_pipeline_description(tmp_path):
    target = tmp_path / "x.jpg"
    one_error(kestrel("run", "test:nonsense", "--model", MODEL, timeout=30), "unknown test pattern 'nonsense'")
    injected = f"test:ball ! jpegenc ! filesink location={target} videotestsrc"
    one_error(kestrel("run", injected, "--model", MODEL, timeout=30), "unknown test pattern")
    assert not target.exists()


def test_a_truncated_file_is_processed_with_a_warning(tmp_path):
    cut = tmp_path / "cut.mp4"
    data = SAMPLE.read_bytes()
    cut.write_bytes(data[: len(data) * 6 // 10])
    events = tmp_path / "ev.jsonl"
    done = kestrel("run", cut, "--model", MODEL, "--events", events, timeout=60)
    assert done.returncode == 0, done.stderr
    warning = [line for line in done.stderr.splitlines() if line.startswith("kestrel: warning:")]
    assert len(warning) == 1 and "ended early" in warning[0] and "frames were decodable" in warning[0]
    assert "source_ended_early" in [r.get("type") for r in whole_lines(events)]


def test_the_pickle_scan_follows_the_memo(tmp_path):
    """STACK_GLOBAL fed from memoised strings, with harmless literals pushed last as decoys."""
    from detector.models.pickle_scan import disallowed_globals

    payload = (b"\x80\x04" + b"\x8c\x02os\x94" + b"\x8c\x06system\x94" + b"00" + b"\x8c\x05torch\x8c\x04Size"
               + b"00" + b"h\x00h\x01\x93" + b"\x8c\x04echo\x85R.")  # fmt: skip
    path = tmp_path / "memo.ckpt"
    path.write_bytes(payload)
    bad, parsed = disallowed_globals(path)
    assert parsed and "os system" in bad
    one_error(kestrel("import", path, "-o", tmp_path / "x.onnx", timeout=60), "pickled objects other than tensors")
