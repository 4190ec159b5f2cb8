"""kestrel run: headless processing of a video source — detections, annotated recording, events."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from detector.detector import Detector
from detector.errors import KestrelError

from .arg_types import fraction, model_ref, non_negative, non_negative_int, port


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="process a video source headless (files, RTSP, cameras)",
        description="Detect and track objects in a video source. SOURCE is a file, a URI, "
        "rtsp://[user:pass@]host/path, /dev/videoN (or v4l2:/dev/videoN), or 'test' for a test pattern. Every "
        "object gets an id and one label; --events writes object events (new when an object is confirmed, "
        "update when its label or stationary state changes and every 5 s, end when it is gone) with a best "
        "snapshot per object. Live sources drop frames when the model is slower than the source (latency "
        "stays flat) and reconnect with backoff; files lose nothing. Ctrl-C (or SIGTERM) stops cleanly and "
        "finalises every output.",
    )
    p.add_argument("source", help="video file, URI, RTSP URL, /dev/videoN or 'test'")
    p.add_argument("--model", type=model_ref,
                   help="model package, or triton://HOST:PORT/MODEL (default: the bundled default model)")
    p.add_argument("--save", type=Path, help="annotated recording (.mkv, .ts or .mp4; stays playable if killed)")
    p.add_argument("--events", type=Path,
                   help="JSON-lines object events; snapshots go to EVENTS-snapshots/ beside the file")
    p.add_argument("--events-mode", choices=["objects", "frames"], default="objects",
                   help="objects: new/update/end per object (default); frames: also one line per frame")
    p.add_argument("--rules", type=Path,
                   help="zones, lines and masks (YAML, see docs/rules.md): line_cross, zone and occupancy events")
    p.add_argument("--mot", type=Path, help="tracks in MOTChallenge format (frame,id,x,y,w,h,score,-1,-1,-1)")
    p.add_argument("--multi-label", action="store_true",
                   help="keep NanoDet's multi-label boxes (a box may carry two classes) instead of one label")
    p.add_argument("--overwrite", action="store_true", help="replace existing --save/--events/--mot files")
    p.add_argument("--append-events", action="store_true",
                   help="add to an existing --events file, after a {\"type\": \"run\"} header line")
    p.add_argument("--conf", type=fraction, default=0.35, help="score threshold, 0..1 (default 0.35)")
    p.add_argument("--iou", type=fraction, default=0.6, help="NMS IoU threshold, 0..1 (default 0.6)")
    p.add_argument("--classes", nargs="*", help="keep only these classes (names or ids)")
    p.add_argument("--backend", default="auto", help="inference backend (default auto)")
    p.add_argument("--rtsp-out", type=port, metavar="PORT",
                   help="re-stream the annotated video at rtsp://127.0.0.1:PORT/kestrel")
    p.add_argument("--max-frames", type=non_negative_int, default=0,
                   help="stop after N frames (0: until the source ends)")
    p.add_argument("--detect-fps", type=non_negative, default=0.0,
                   help="detect at most this many frames per second of source time; the others are decoded and "
                   "dropped (0: every frame the detector can take; surveillance often needs only 5)")
    p.add_argument("--rtsp-udp", action="store_true", help="RTSP over UDP instead of TCP")
    p.add_argument("--rtsp-latency", type=non_negative_int, default=200,
                   help="RTSP jitter buffer in ms (default 200)")
    p.add_argument("--no-reconnect", action="store_true", help="live sources: stop at the first drop")
    p.add_argument("--no-hud", action="store_true", help="no FPS/latency overlay in the recording")
    p.set_defaults(handler=run)


LABEL_IOU = 0.7  # the app shows one label per object: a box overlapping a better one of another class this much goes


def default_model() -> Path:
    from ..models import default_model as bundled

    return bundled()


def run(args: argparse.Namespace) -> int:
    from ..analytics.objects import ObjectStage
    from ..analytics.rules_file import load_rules
    from ..capture.spec import SourceSpec
    from ..outputs import check_output, probe_writable
    from ..overlay import annotate, draw_hud, draw_rules
    from ..pipeline import Pipeline
    from ..sinks.adapters import EventSink, RecordingSink
    from ..sinks.recorder import check_container

    spec = SourceSpec.parse(args.source)
    model = args.model or default_model()
    inputs = [spec.location if spec.kind == "file" else None, model]
    if args.save:
        check_output(args.save, inputs, args.overwrite)
        check_container(args.save)
    if args.events:
        check_output(args.events, [*inputs, args.save], args.overwrite or args.append_events,
                     "--overwrite or --append-events")  # fmt: skip
    if args.mot:
        check_output(args.mot, [*inputs, args.save, args.events], args.overwrite)
    detector = Detector.load(model, args.backend, conf=args.conf, iou=args.iou, classes=args.classes,
                             label_iou=None if args.multi_label else LABEL_IOU)  # fmt: skip
    rules = load_rules(args.rules, detector.class_names) if args.rules else None
    if args.events and args.overwrite:  # a new events file starts its counts again; --append-events keeps them
        args.events.with_name(args.events.stem + "-counts.json").unlink(missing_ok=True)
    objects = ObjectStage(detector.class_names, args.conf, spec.name, args.events, args.mot, rules=rules)
    detector.conf = objects.detector_conf
    sinks = []
    if args.save:
        probe_writable(args.save)
        sinks.append(RecordingSink(args.save))
    if args.events:
        sinks.append(EventSink(args.events, append=args.append_events, every_frame=args.events_mode == "frames"))
    if args.rtsp_out:
        from ..sinks.rtsp_out import RtspOutSink

        sinks.append(RtspOutSink(args.rtsp_out))
        print(f"re-streaming at {sinks[-1].url}", file=sys.stderr)

    def draw(frame, dets, pipeline):
        if not (args.save or args.rtsp_out):
            return None
        image = draw_rules(annotate(frame.image, dets), objects.rules.rules if objects.rules else None)
        if not args.no_hud:
            det = pipeline.stats["detect"]
            counts = objects.rules.hud_lines() if objects.rules else []
            draw_hud(image, [f"{det.fps:5.1f} fps  {det.latency_ms:5.1f} ms", f"{len(dets)} objects", *counts])
        return image

    options = {"rtsp_tcp": not args.rtsp_udp, "rtsp_latency_ms": args.rtsp_latency}
    pipeline = Pipeline(spec, detector, sinks, annotate=draw, objects=objects, max_frames=args.max_frames,
                        reconnect=not args.no_reconnect, capture_options=options,
                        sample_fps=args.detect_fps)  # fmt: skip
    previous = {s: signal.signal(s, lambda *_: pipeline.stop.set()) for s in (signal.SIGINT, signal.SIGTERM)}
    print(f"kestrel run: {spec.name} with {detector.describe()}", file=sys.stderr)
    try:
        summary = pipeline.run()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    print_summary(summary, args, objects)
    for warning in summary.warnings:
        print(f"kestrel: warning: {warning}", file=sys.stderr)
    if summary.error:
        raise KestrelError(summary.error)
    return 0


def print_summary(summary, args: argparse.Namespace, objects=None) -> None:
    rate = summary.frames / max(summary.seconds, 1e-9)
    print(f"processed {summary.frames} frames in {summary.seconds:.1f} s ({rate:.1f} fps), "
          f"dropped {summary.dropped}, reconnects {summary.reconnects}")  # fmt: skip
    for st in summary.stages:
        print(f"  {st.name:8s} {st.count:6d} items  {st.fps:6.1f}/s  {st.latency_ms:7.2f} ms each")
    counts = objects.events.counts if objects is not None else summary.classes
    if counts:
        print("  objects: " + ", ".join(f"{c} {n}" for n, c in counts.most_common(8)))
    if objects is not None and objects.rules is not None:
        for line in objects.rules.hud_lines():
            print(f"  {line}")
    for label, path in (("recording", args.save), ("events", args.events), ("tracks", args.mot)):
        if path:
            print(f"  {label}: {path}")
