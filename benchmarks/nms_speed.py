"""Class-aware NMS: OpenCV's NMSBoxesBatched against the numpy loop, on real detector outputs.

    .venv/bin/python benchmarks/nms_speed.py [--out docs/measurements/cpu-nms.json]

The candidates (boxes, scores, classes above the threshold, before NMS) come from the bundled default
model on the 80 COCO tiny val images and on frames of the ../shared videos, at the evaluation threshold
(0.05) and the app's (0.35). Both implementations run on the same candidates, interleaved in rounds in one
process; the table gives the median time per image and whether every image kept the same indices in
the same order.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"


def candidates(conf: float, frames_per_clip: int = 10) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    from app.models import DEFAULT
    from detector import Detector
    from detector.images import read_image
    from detector.preprocess import Preprocessor
    from trainer.data.video import VideoFramesSource

    det = Detector.load(DEFAULT, backend="onnxruntime", conf=conf)
    pre = Preprocessor(det.meta)
    images = [read_image(p) for p in sorted((SHARED / "data/coco/tiny/val2017").glob("*.jpg"))]
    for clip in sorted((SHARED / "data/videos").glob("*")):
        images += [s.image for s in VideoFramesSource(clip, frames_per_clip, det.class_names, max_side=1280)]
    out = []
    for image in images:
        x, _ = pre(image)
        out.append(det._decoder(det.backend.infer(x[None])[0], conf, det.pre_nms_topk))
    return out


def time_per_image(fn, cands, iou: float) -> float:
    t0 = time.perf_counter()
    for b, s, c in cands:
        fn(b, s, c, iou, 100)
    return (time.perf_counter() - t0) / len(cands) * 1e3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "measurements" / "cpu-nms.json")
    args = parser.parse_args()
    if not (SHARED / "data").exists():
        print("needs ../shared/data (absent here)", file=sys.stderr)
        return 2
    from detector.nms import batched_nms, batched_nms_numpy

    rows = []
    for conf in (0.05, 0.35):
        cands = candidates(conf)
        same = sum(np.array_equal(batched_nms(*c, 0.6, 100), batched_nms_numpy(*c, 0.6, 100)) for c in cands)
        times: dict[str, list[float]] = {"numpy": [], "opencv": []}
        for r in range(args.rounds):
            order = [("numpy", batched_nms_numpy), ("opencv", batched_nms)]
            for name, fn in order if r % 2 == 0 else order[::-1]:
                times[name].append(time_per_image(fn, cands, 0.6))
        numpy_ms, cv_ms = (float(np.median(times[k])) for k in ("numpy", "opencv"))
        sizes = [len(c[0]) for c in cands]
        rows.append({"conf": conf, "images": len(cands), "median_candidates": int(np.median(sizes)),
                     "numpy_ms": round(numpy_ms, 4), "opencv_ms": round(cv_ms, 4),
                     "speedup": round(numpy_ms / cv_ms, 2), "identical_keeps": f"{same}/{len(cands)}"})  # fmt: skip
    keys = list(rows[0])
    print(" | ".join(keys))
    for row in rows:
        print(" | ".join(str(row[k]) for k in keys))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"what": "class-aware NMS per image (IoU 0.6, max 100) on the bundled default "
                                    "model's candidates: COCO tiny val + 10 frames of each shared video",
                                    "how": "benchmarks/nms_speed.py", "rounds": args.rounds, "rows": rows},
                                   indent=1) + "\n")  # fmt: skip
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
