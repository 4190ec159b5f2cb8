"""kestrel replay: review a recorded drive — a time range, paced or fast, exported with overlays."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from detector.detector import Detector

from .arg_types import fraction, non_negative, positive_int


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="replay a video file range with detections; export a clip",
                       description="Frame-exact replay of FILE between --start and --end (seconds, end exclusive). "
                       "--speed 1 paces to real time (0: as fast as possible), --step N keeps every Nth frame. "
                       "--export writes exactly those frames, annotated; --events logs detections with the "
                       "source's own timestamps.")  # fmt: skip
    p.add_argument("file", help="video file")
    p.add_argument("--model", type=Path, help="model package (default: the bundled default model)")
    p.add_argument("--start", type=non_negative, default=0.0, help="start time in seconds (default 0)")
    p.add_argument("--end", type=non_negative, help="end time in seconds, exclusive (default: end of file)")
    p.add_argument("--speed", type=non_negative, default=0.0,
                   help="playback speed, 1 = real time (default 0: fastest)")
    p.add_argument("--step", type=positive_int, default=1, help="keep every Nth frame of the range (default 1)")
    p.add_argument("--export", type=Path, help="annotated clip of the range (.mp4, .mkv or .ts)")
    p.add_argument("--events", type=Path, help="JSON-lines detections with source timestamps")
    p.add_argument("--overwrite", action="store_true", help="replace existing --export/--events files")
    p.add_argument("--conf", type=fraction, default=0.35, help="score threshold, 0..1 (default 0.35)")
    p.add_argument("--backend", default="auto", help="inference backend (default auto)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..outputs import check_output
    from ..replay import replay
    from ..sinks.recorder import check_container
    from .run_cmd import LABEL_IOU, default_model

    model = args.model or default_model()
    for path in (args.export, args.events):
        if path is not None:
            check_output(path, [args.file, model, *({args.export, args.events} - {path})], args.overwrite)
    if args.export:
        check_container(args.export)
    detector = Detector.load(model, args.backend, conf=args.conf, label_iou=LABEL_IOU)
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = replay(args.file, detector, args.start, args.end, args.speed, args.step, args.export,
                        args.events, stop)  # fmt: skip
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    span = f"{result.frames[0] / 1e9:.3f}-{result.frames[-1] / 1e9:.3f} s" if result.frames else "nothing"
    print(f"replayed {len(result.frames)} frames ({span})", file=sys.stderr)
    if result.classes:
        print("  seen: " + ", ".join(f"{n} x{c}" for n, c in result.classes.most_common(8)))
    if args.export:
        print(f"  export: {args.export} ({result.export_frames} frames)")
    return 0
