"""kestrel replay: review a recorded drive — a time range, paced or fast, exported with overlays."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from detector.detector import Detector


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="replay a video file range with detections; export a clip",
                       description="Frame-exact replay of FILE between --start and --end (seconds, end exclusive). "
                       "--speed 1 paces to real time (0: as fast as possible), --step N keeps every Nth frame. "
                       "--export writes exactly those frames, annotated; --events logs detections with the "
                       "source's own timestamps.")  # fmt: skip
    p.add_argument("file", help="video file")
    p.add_argument("--model", type=Path, help="model package (default: the bundled default model)")
    p.add_argument("--start", type=float, default=0.0, help="start time in seconds (default 0)")
    p.add_argument("--end", type=float, help="end time in seconds, exclusive (default: end of file)")
    p.add_argument("--speed", type=float, default=0.0, help="playback speed, 1 = real time (default 0: fastest)")
    p.add_argument("--step", type=int, default=1, help="keep every Nth frame of the range (default 1)")
    p.add_argument("--export", type=Path, help="annotated clip of the range (.mp4, .mkv or .ts)")
    p.add_argument("--events", type=Path, help="JSON-lines detections with source timestamps")
    p.add_argument("--conf", type=float, default=0.35, help="score threshold (default 0.35)")
    p.add_argument("--backend", default="auto", help="inference backend (default auto)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..replay import replay
    from .run_cmd import default_model

    detector = Detector.load(args.model or default_model(), args.backend, conf=args.conf)
    stop = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        result = replay(args.file, detector, args.start, args.end, args.speed, args.step, args.export,
                        args.events, stop)  # fmt: skip
    finally:
        signal.signal(signal.SIGINT, previous)
    span = f"{result.frames[0] / 1e9:.3f}-{result.frames[-1] / 1e9:.3f} s" if result.frames else "nothing"
    print(f"replayed {len(result.frames)} frames ({span})", file=sys.stderr)
    if result.classes:
        print("  seen: " + ", ".join(f"{n} x{c}" for n, c in result.classes.most_common(8)))
    if args.export:
        print(f"  export: {args.export} ({result.export_frames} frames)")
    return 0
