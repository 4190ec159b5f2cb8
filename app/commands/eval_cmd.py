"""kestrel eval: COCO mAP of a model package on a COCO-format dataset."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from detector.detector import Detector
from detector.errors import KestrelError

from .arg_types import fraction, model_ref, positive_int


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="COCO mAP of a model package on a COCO-format dataset",
        description="Run a model package over a COCO-format dataset and score it with pycocotools "
        "(mAP@[.5:.95], AP50, AP75, APs/m/l). Defaults follow COCO practice: score > 0.05, NMS IoU 0.6, "
        "100 detections per image. Scoring keeps NanoDet's multi-label output (a box may carry several "
        "classes), as COCO's metric expects; the app (run, gui, replay) shows one label per object instead.",
    )
    p.add_argument("package", type=model_ref, help="model package (.onnx), or triton://HOST:PORT/MODEL")
    p.add_argument("--data", type=Path, required=True,
                   help="dataset dir (annotations/instances_<split>.json with the images in <split>/ or "
                   "images/<split>/) or a COCO json (images beside it, or in images/ or images/<split>/)")
    p.add_argument("--split", default="val2017", help="split name inside a dataset dir (default val2017)")
    p.add_argument("--images", type=Path, help="image folder, when the search above does not find it")
    p.add_argument("--limit", type=positive_int, help="evaluate only the first N images")
    p.add_argument("--conf", type=fraction, default=0.05, help="score threshold, 0..1 (default 0.05)")
    p.add_argument("--iou", type=fraction, default=0.6, help="NMS IoU threshold, 0..1 (default 0.6)")
    p.add_argument("--backend", default="auto", help="inference backend (default auto)")
    p.add_argument("--save-detections", type=Path, help="write the detections as COCO results json")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --save-detections file")
    p.add_argument("--json", action="store_true", help="print only the metrics, as one JSON object")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        from trainer.coco_eval import evaluate, resolve_split
    except ImportError as exc:
        raise KestrelError(f"evaluation needs pycocotools ({exc}); pip install 'kestrel-vision[train]'") from None
    split = resolve_split(args.data, args.split, args.images)
    if args.save_detections:
        from ..outputs import check_output

        check_output(args.save_detections, [args.package, split.annotations], args.overwrite)
    detector = Detector.load(args.package, args.backend, conf=args.conf, iou=args.iou, max_det=100)
    metrics = evaluate(detector, split, args.limit, args.save_detections, progress=True)
    if args.json:
        print(json.dumps({k: round(v, 4) for k, v in metrics.items()}))
    else:
        print(f"{detector.meta.name} on {split.annotations}")
        for key, value in metrics.items():
            print(f"  {key:5s} {value:.4f}")
    return 0
