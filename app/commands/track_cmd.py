"""kestrel track: the tracker alone on MOTChallenge detections (how trackers are benchmarked)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .arg_types import fraction, non_negative


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("track", help="track MOTChallenge detections (det.txt) into MOTChallenge tracks",
                       description="Run Kestrel's tracker on public detections, one 'frame,-1,x,y,w,h,score' "
                       "line per box, and write 'frame,id,x,y,w,h,score,-1,-1,-1' tracks: how trackers are "
                       "compared on equal detections (benchmarks/tracking.py scores them). Frame i is at time "
                       "(i-1)/fps seconds: the tracker's settings are in seconds, so give the real rate.")  # fmt: skip
    p.add_argument("detections", type=Path, help="MOTChallenge detections (det.txt)")
    p.add_argument("--out", type=Path, required=True, help="tracks in MOTChallenge format")
    p.add_argument("--fps", type=non_negative, default=30.0, help="frames per second of the sequence (default 30)")
    p.add_argument("--high", type=fraction, default=0.5, help="strong-detection score (default 0.5)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from detector.errors import KestrelError

    from ..analytics.mot import track_file
    from ..analytics.tracker import Tracker, TrackerConfig
    from ..outputs import check_output

    if args.fps <= 0:
        raise KestrelError("--fps must be positive")
    check_output(args.out, [args.detections], args.overwrite)
    config = TrackerConfig(high_score=args.high, new_track_score=min(args.high + 0.1, 1.0))
    rows = track_file(args.detections, args.out, args.fps, Tracker(("person",), config))
    print(f"wrote {args.out}: {rows} track boxes")
    return 0
