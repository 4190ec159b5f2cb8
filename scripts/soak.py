"""Soak test (not in `make test`): `kestrel run`'s pipeline on a looping RTSP source for a long time.

    .venv/bin/python scripts/soak.py [--minutes 30] [--out build/logs/soak.json]

A real RTSP server (tests/rtsp_server.py) on 127.0.0.1 streams a live pattern; the pipeline records
annotated video and events. Every 10 s: resident memory and queue depths. Pass: RSS growth < 5 %
from the 2-minute mark (after warm-up) to the end, and no queue growth.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "logs" / "soak.json")
    args = parser.parse_args()
    from app.capture.spec import SourceSpec
    from app.commands.run_cmd import default_model
    from app.overlay import annotate
    from app.pipeline import Pipeline
    from app.sinks.adapters import EventSink, RecordingSink
    from detector import Detector

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "tests.rtsp_server", str(port)], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert server.stdout.readline().strip() == "ready"
    out_dir = ROOT / "build" / "soak"
    out_dir.mkdir(parents=True, exist_ok=True)
    detector = Detector.load(args.model or default_model())
    pipe = Pipeline(SourceSpec.parse(f"rtsp://127.0.0.1:{port}/stream"), detector,
                    [RecordingSink(out_dir / "soak.ts"), EventSink(out_dir / "events.jsonl")],
                    annotate=lambda f, d, p: annotate(f.image, d))  # fmt: skip
    samples: list[dict] = []

    def sample() -> None:
        start = time.monotonic()
        while not pipe.stop.wait(10):
            samples.append({"t_s": round(time.monotonic() - start), "rss_mb": round(rss_mb(), 1),
                            "queue_in": pipe.frames_in.qsize(), "queue_out": pipe.frames_out.qsize(),
                            "frames": pipe.stats["sinks"].count, "dropped": pipe.dropped})  # fmt: skip
            print(samples[-1], flush=True)

    threading.Thread(target=sample, daemon=True).start()
    threading.Timer(args.minutes * 60, pipe.stop.set).start()
    try:
        summary = pipe.run()
    finally:
        server.kill()
    warm = [s for s in samples if s["t_s"] >= min(120, args.minutes * 30)]
    growth = (warm[-1]["rss_mb"] - warm[0]["rss_mb"]) / warm[0]["rss_mb"] * 100 if len(warm) > 1 else 0.0
    result = {"minutes": args.minutes, "frames": summary.frames, "dropped": summary.dropped,
              "rss_start_mb": warm[0]["rss_mb"] if warm else None, "rss_end_mb": warm[-1]["rss_mb"] if warm else None,
              "rss_growth_pct": round(growth, 2), "max_queue_in": max((s["queue_in"] for s in samples), default=0),
              "max_queue_out": max((s["queue_out"] for s in samples), default=0), "samples": samples}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"soak: {summary.frames} frames in {args.minutes} min, RSS {result['rss_start_mb']} -> "
          f"{result['rss_end_mb']} MB ({growth:+.2f} %), max queues {result['max_queue_in']}/{result['max_queue_out']}")
    return 0 if growth < 5 else 1


if __name__ == "__main__":
    sys.exit(main())
