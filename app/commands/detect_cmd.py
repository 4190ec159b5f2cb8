"""kestrel detect: run a model package on images, print or save detections as JSON lines."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from detector.detector import Detector
from detector.images import read_image


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("detect", help="detect objects in images (JSON lines out)",
                       description="Detect objects in still images; one JSON line per image.")  # fmt: skip
    p.add_argument("package", type=Path, help="model package (.onnx)")
    p.add_argument("images", type=Path, nargs="+", help="image files")
    p.add_argument("--conf", type=float, default=0.35, help="score threshold (default 0.35)")
    p.add_argument("--iou", type=float, default=0.6, help="NMS IoU threshold (default 0.6)")
    p.add_argument("--classes", nargs="*", help="keep only these classes (names or ids)")
    p.add_argument("--backend", default="auto", help="inference backend (default auto)")
    p.add_argument("-o", "--output", type=Path, help="write JSON lines here instead of stdout")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    detector = Detector.load(args.package, args.backend, conf=args.conf, iou=args.iou, classes=args.classes)
    out = args.output.open("w") if args.output else sys.stdout
    try:
        for path in args.images:
            dets = detector(read_image(path))
            out.write(json.dumps({"image": str(path), "detections": dets.to_records()}) + "\n")
    finally:
        if args.output:
            out.close()
    return 0
