"""kestrel replay: review a recorded drive — analyse it for the moments that matter, jump to an event, export a
time range or an incident with overlays."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from detector.detector import Detector

from .arg_types import fraction, model_ref, non_negative, positive_int


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="analyse a recorded drive, replay a range, export an incident",
                       description="Review a video file. --analyse runs the detector, tracker, camera-motion "
                       "compensation and close-approach warnings (and --rules) over the whole file once, keeps the "
                       "result in a cache keyed by the file's content, and lists its events, numbered. --event N "
                       "--export OUT.mp4 then exports event N with --pre/--post seconds around it. Without "
                       "them: frame-exact replay of FILE between --start and --end (seconds, end exclusive); "
                       "--speed 1 paces to real time (0: as fast as possible), --step N keeps every Nth frame, "
                       "--export writes exactly those frames, annotated.")  # fmt: skip
    p.add_argument("file", help="video file")
    p.add_argument("--model", type=model_ref,
                   help="model package, or triton://HOST:PORT/MODEL (default: the bundled default model)")
    p.add_argument("--analyse", "--analyze", action="store_true",
                   help="analyse the whole file (or load its earlier analysis) and list its events")
    p.add_argument("--reanalyse", action="store_true", help="analyse again even if an analysis is cached")
    p.add_argument("--cmc", choices=("auto", "on", "off"), default="auto",
                   help="camera-motion compensation for tracking: auto applies it while the camera is seen to "
                   "move (default auto)")  # fmt: skip
    p.add_argument("--ttc", type=non_negative, default=2.0,
                   help="close-approach warning below this time to contact, seconds (default 2.0)")
    p.add_argument("--rules", type=Path, help="zones and lines (YAML) for the analysis")
    p.add_argument("--event", type=positive_int, help="with --export: export event N of the analysis")
    p.add_argument("--pre", type=non_negative, default=5.0, help="seconds before the event (default 5)")
    p.add_argument("--post", type=non_negative, default=5.0, help="seconds after the event (default 5)")
    p.add_argument("--raw", action="store_true", help="export the frames without the overlay")
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
    from detector.errors import KestrelError

    from ..outputs import check_output
    from ..replay import replay
    from ..sinks.recorder import check_container
    from .run_cmd import LABEL_IOU, default_model

    model = args.model or default_model()
    if args.event is not None and not args.export:
        raise KestrelError("--event needs --export OUT.mp4 (the incident's clip)")
    for path in (args.export, args.events):
        if path is not None:
            check_output(path, [args.file, model, *({args.export, args.events} - {path})], args.overwrite)
    if args.export:
        check_container(args.export)
    detector = Detector.load(model, args.backend, conf=args.conf, label_iou=LABEL_IOU)
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        analysis = None
        if args.analyse or args.event is not None:
            analysis = analysed(args, detector, model, stop)
            if analysis is None:
                return 130
            if args.event is None:
                print_analysis(analysis)
                return 0
            event = analysis.event(args.event)
            args.start, args.end = max(event["pts_s"] - args.pre, 0.0), event["pts_s"] + args.post
        result = replay(args.file, detector, args.start, args.end, args.speed, args.step, args.export,
                        args.events, stop, raw=args.raw)  # fmt: skip
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    span = f"{result.frames[0] / 1e9:.3f}-{result.frames[-1] / 1e9:.3f} s" if result.frames else "nothing"
    print(f"replayed {len(result.frames)} frames ({span})", file=sys.stderr)
    if result.classes:
        print("  seen: " + ", ".join(f"{n} x{c}" for n, c in result.classes.most_common(8)))
    if args.export:
        print(f"  export: {args.export} ({result.export_frames} frames)")
        if analysis is not None:
            inside = [e for e in analysis.events if args.start <= e["pts_s"] < args.end]
            listing = args.export.with_name(args.export.name + ".events.json")
            listing.write_text(json.dumps(inside, indent=1) + "\n")
            print(f"  events of the range: {listing} ({len(inside)})")
    return 0


def analysed(args: argparse.Namespace, detector: Detector, model: Path, stop: threading.Event):
    """The file's analysis: from the cache, or computed now with a progress bar (None if interrupted)."""
    from tqdm import tqdm

    from ..analytics.rules_file import load_rules
    from ..replay_analysis import analyse, load, sidecar_for

    path = Path(args.file)
    if not path.is_file():
        from detector.errors import KestrelError

        raise KestrelError(f"{path}: no such file")
    rules = load_rules(args.rules, detector.class_names) if args.rules else None
    settings = {"model": Path(model).name, "cmc": args.cmc, "conf": args.conf, "ttc_s": args.ttc,
                "rules": args.rules.read_text() if args.rules else None}  # fmt: skip
    sidecar = sidecar_for(path, settings)
    if not args.reanalyse and (cached := load(sidecar)) is not None:
        print(f"analysis: {sidecar} (cached)", file=sys.stderr)
        return cached
    bar = tqdm(total=1.0, unit="s", desc="analysing", bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s [{elapsed}<"
               "{remaining}]", file=sys.stderr)  # fmt: skip

    def progress(pts_s: float, duration_s: float) -> None:
        bar.total = max(duration_s, pts_s, 1.0)
        bar.update(max(pts_s - bar.n, 0.0))

    try:
        result = analyse(path, detector, settings, rules, sidecar, progress, stop)
    except KeyboardInterrupt:
        bar.close()
        print("analysis interrupted: nothing saved", file=sys.stderr)
        return None
    bar.n = bar.total
    bar.close()
    print(f"analysis: {sidecar}", file=sys.stderr)
    return result


def print_analysis(a) -> None:
    speed = a.duration_s / a.seconds if a.seconds else 0.0
    print(f"{Path(a.file).name}: {a.duration_s:.1f} s, {a.frames} frames {a.width}x{a.height}, analysed at "
          f"{speed:.1f}x real time; camera moving in {a.camera_moving_share * 100:.0f} % of frames; "
          f"{len(a.tracks)} objects")  # fmt: skip
    for label, per_second in a.counts.items():
        print(f"  {label:12s} up to {max(per_second)} at once")
    marked = a.marked()
    print(f"{len(marked)} events to look at (of {len(a.events)}); export one with --event N --export OUT.mp4")
    for e in marked:
        extra = f"TTC {e['ttc_s']:.1f} s" if e["type"] == "close_approach" else e.get("line", e.get("zone", ""))
        print(f"  {e['event']:5d}  {e['pts_s']:8.2f} s  {e['type']:15s} #{e.get('id', '')} {e.get('label', '')} "
              f"{extra}".rstrip())  # fmt: skip
