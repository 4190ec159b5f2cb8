"""Does a point between two dense students of one lineage keep the best of both? Linear interpolation of
weights (and BatchNorm statistics) between the averaged road-recipe model and its COCO-balanced fine-tune:
``(1 - t) * A + t * B`` for each ``t``, each exported and scored on COCO tiny val and highway-od val.

    .venv/bin/python experiments/interpolate_dense.py CONFIG A.safetensors B.safetensors --t 0.5 [--t 0.3 ...]
        [--out build/interpolate] [--json docs/measurements/cpu-road-lite0-320-interpolate.json] 2>/dev/null

CONFIG builds the network (the recipe both checkpoints were trained with). The fine-tune starts from A, so the
two sit in one basin and the straight line between them stays a working model (Wortsman et al., 2022).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"


def interpolate(a: dict, b: dict, t: float) -> dict:
    if a.keys() != b.keys():
        raise SystemExit("the two checkpoints hold different tensors: not one architecture")
    return {k: (a[k] * (1 - t) + b[k] * t).to(a[k].dtype) if a[k].dtype.is_floating_point else a[k] for k in a}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config")
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--t", type=float, action="append", required=True, help="0 = A, 1 = B (repeatable)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "interpolate")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from safetensors.torch import load_file

    from detector import Detector
    from detector.models import build_model
    from detector.models.export import export_package, package_meta
    from trainer.coco_eval import CocoSplit, evaluate
    from trainer.config import load_config

    cfg = load_config(args.config)
    mcfg = cfg.model_config()
    mcfg = dataclasses.replace(mcfg, backbone=dataclasses.replace(mcfg.backbone, pretrained=False))
    a, b = load_file(str(args.a)), load_file(str(args.b))
    sets = {"coco_tiny_val": CocoSplit(SHARED / "coco/tiny/annotations/instances_val2017.json",
                                       SHARED / "coco/tiny/val2017"),
            "highway_od_val": CocoSplit(SHARED / "highway-od/annotations/instances_val.json",
                                        SHARED / "highway-od/val")}  # fmt: skip
    rows = []
    for t in args.t:
        model = build_model(mcfg)
        model.load_state_dict(interpolate(a, b, t))
        model.eval()
        path = args.out / f"t{t:.2f}.onnx"
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = package_meta(model, mcfg.input_size, name=f"{cfg.name}-t{t:.2f}",
                            source=f"(1-{t}) * {args.a} + {t} * {args.b}")  # fmt: skip
        export_package(model, meta, path)
        detector = Detector.load(path, conf=0.05, iou=0.6, max_det=100, threads=1)
        scores = {name: round(evaluate(detector, split, progress=False)["mAP"], 4) for name, split in sets.items()}
        rows.append({"t": t, "package": os.path.relpath(path, ROOT), **scores})
        print(f"t={t:.2f}  COCO tiny {scores['coco_tiny_val']:.4f}  highway-od {scores['highway_od_val']:.4f}",
              flush=True)  # fmt: skip
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"a": str(args.a), "b": str(args.b), "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
