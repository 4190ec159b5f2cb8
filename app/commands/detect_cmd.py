"""kestrel detect: run a model package on images, print or save detections as JSON lines."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from detector.detector import Detector
from detector.images import read_image

from .arg_types import fraction, model_ref


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("detect", help="detect objects in images (JSON lines out)",
                       description="Detect objects in still images; one JSON line per image.")  # fmt: skip
    p.add_argument("package", type=model_ref, help="model package (.onnx), or triton://HOST:PORT/MODEL")
    p.add_argument("images", type=Path, nargs="+", help="image files")
    p.add_argument("--conf", type=fraction, default=0.35, help="score threshold, 0..1 (default 0.35)")
    p.add_argument("--iou", type=fraction, default=0.6, help="NMS IoU threshold, 0..1 (default 0.6)")
    p.add_argument("--classes", nargs="*", help="keep only these classes (names or ids)")
    p.add_argument("--backend", default="auto", help="inference backend (default auto)")
    p.add_argument("-o", "--output", type=Path, help="write JSON lines here instead of stdout")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --output file")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..outputs import atomic_output, check_output

    if args.output:
        check_output(args.output, [args.package, *args.images], args.overwrite)
    detector = Detector.load(args.package, args.backend, conf=args.conf, iou=args.iou, classes=args.classes)
    if not args.output:
        for line in _lines(detector, args.images):
            sys.stdout.write(line)
        return 0
    with atomic_output(args.output) as tmp, tmp.open("w") as out:
        for line in _lines(detector, args.images):
            out.write(line)
    return 0


def _lines(detector: Detector, images: list[Path]):
    for path in images:
        dets = detector(read_image(path))
        yield json.dumps({"image": str(path), "detections": dets.to_records()}) + "\n"
