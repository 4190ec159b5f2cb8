"""Pipeline speed in one run: detector-only FPS and whole-pipeline FPS (decode -> detect -> overlay ->
encode) on the 720p clip, and live glass-to-glass latency over loopback RTSP.

    .venv/bin/python benchmarks/pipeline_speed.py [--frames 150] [--seconds 12] [--out build/bench/pipeline_speed.json]

Glass-to-glass: an in-process RTSP server streams frames whose top row encodes the wall-clock time
they were made (64 black/white blocks); `kestrel run`'s pipeline receives them over 127.0.0.1 and the
latency is measured when each frame leaves the last stage. Goal: pipeline FPS >= 0.9 x detector FPS.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CLIP = ROOT.parent / "shared" / "data" / "videos" / "highway-720p.mp4"
BITS, BLOCK = 64, 10


def stamp(image: np.ndarray, t_ns: int) -> None:
    for i in range(BITS):
        image[:BLOCK, i * BLOCK : (i + 1) * BLOCK] = 255 if (t_ns >> i) & 1 else 0


def read_stamp(image: np.ndarray) -> int:
    row = image[BLOCK // 2, BLOCK // 2 :: BLOCK, 1][:BITS]
    return int(sum(1 << i for i, v in enumerate(row) if v > 127))


def detector_only(detector, frames) -> float:
    for f in frames[:5]:
        detector(f.image)
    t0 = time.perf_counter()
    for f in frames:
        detector(f.image)
    return len(frames) / (time.perf_counter() - t0)


def whole_pipeline(model: Path, frames: int, out: Path) -> float:
    from app.cli import main

    t0 = time.perf_counter()
    main(["run", str(CLIP), "--model", str(model), "--save", str(out), "--max-frames", str(frames), "--overwrite"])
    return frames / (time.perf_counter() - t0)


class StampServer:
    """RTSP server on 127.0.0.1 whose frames carry their creation time."""

    def __init__(self, port: int, fps: int = 30, size: tuple[int, int] = (1280, 720)) -> None:
        import gi

        gi.require_version("GstRtspServer", "1.0")
        from gi.repository import GLib, GstRtspServer

        from app.gst import gst

        self.Gst, self.fps, self.size, self.src, self.running = gst(), fps, size, None, True
        server = GstRtspServer.RTSPServer()
        server.set_address("127.0.0.1")
        server.set_service(str(port))
        factory = GstRtspServer.RTSPMediaFactory()
        w, h = size
        factory.set_launch(
            f"( appsrc name=src is-live=true format=time do-timestamp=true caps=video/x-raw,format=BGR,width={w},"
            f"height={h},framerate={fps}/1 ! videoconvert ! video/x-raw,format=I420 ! "
            "x264enc tune=zerolatency speed-preset=ultrafast "
            f"key-int-max={fps} ! rtph264pay name=pay0 pt=96 )"
        )
        factory.set_shared(True)
        factory.connect("media-configure", self.on_configure)
        server.get_mount_points().add_factory("/stamp", factory)
        self.context = GLib.MainContext()
        server.attach(self.context)
        self.loop = GLib.MainLoop.new(self.context, False)
        threading.Thread(target=self.loop.run, daemon=True).start()
        threading.Thread(target=self.feed, daemon=True).start()

    def on_configure(self, factory, media) -> None:
        self.src = media.get_element().get_by_name("src")

    def feed(self) -> None:
        w, h = self.size
        base = np.full((h, w, 3), 90, np.uint8)
        while self.running:
            t0 = time.perf_counter()
            if self.src is not None:
                img = base.copy()
                stamp(img, time.time_ns())
                self.src.emit("push-buffer", self.Gst.Buffer.new_wrapped(img.tobytes()))
            time.sleep(max(0.0, 1 / self.fps - (time.perf_counter() - t0)))


def glass_to_glass(detector, seconds: float, rtsp_latency_ms: int) -> dict:
    from app.capture.spec import SourceSpec
    from app.pipeline import Pipeline, Sink

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = StampServer(port)
    latencies: list[float] = []

    class LatencySink(Sink):
        def write(self, frame, detections, annotated) -> None:
            latencies.append((time.time_ns() - read_stamp(frame.image)) / 1e6)

    pipe = Pipeline(SourceSpec.parse(f"rtsp://127.0.0.1:{port}/stamp"), detector, [LatencySink()],
                    capture_options={"rtsp_latency_ms": rtsp_latency_ms})  # fmt: skip
    threading.Timer(seconds, pipe.stop.set).start()
    summary = pipe.run()
    server.running = False
    valid = [v for v in latencies[10:] if 0 < v < 10_000]  # skip start-up; drop undecodable stamps
    return {"rtsp_latency_ms": rtsp_latency_ms, "frames": len(latencies), "dropped": summary.dropped,
            "median_ms": round(float(np.median(valid)), 1), "p95_ms": round(float(np.percentile(valid, 95)), 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "pipeline_speed.json")
    args = parser.parse_args()
    if not CLIP.exists():
        print(f"needs {CLIP} (../shared is absent)", file=sys.stderr)
        return 2
    from app.capture.gst_capture import GstCapture
    from app.capture.spec import SourceSpec
    from app.commands.run_cmd import default_model
    from detector import Detector

    model = args.model or default_model()
    detector = Detector.load(model)
    cap = GstCapture(SourceSpec.parse(str(CLIP))).open()
    frames = [f for _, f in zip(range(args.frames), cap, strict=False)]
    cap.close()
    det_fps = detector_only(detector, frames)
    pipe_fps = whole_pipeline(model, args.frames, ROOT / "build" / "bench" / "pipeline_out.mkv")
    g2g = [glass_to_glass(detector, args.seconds, ms) for ms in (200, 0)]
    result = {"clip": CLIP.name, "model": model.name, "detector_fps": round(det_fps, 1),
              "pipeline_fps": round(pipe_fps, 1), "ratio": round(pipe_fps / det_fps, 3),
              "glass_to_glass": g2g}  # fmt: skip
    print(f"\n{'measure':44s} value")
    print(f"{'detector only (720p frames in memory)':44s} {det_fps:.1f} fps")
    print(f"{'whole pipeline (decode, detect, overlay, encode)':44s} {pipe_fps:.1f} fps  ({pipe_fps / det_fps:.2f}x)")
    for row in g2g:
        label = f"glass-to-glass, RTSP loopback, jitter buffer {row['rtsp_latency_ms']} ms"
        print(f"{label:44s} median {row['median_ms']} ms, p95 {row['p95_ms']} ms ({row['frames']} frames)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
