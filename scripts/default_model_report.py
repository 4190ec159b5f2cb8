"""The bundled models against their teacher: accuracy, agreement, latency, size. Prints a table, writes JSON.

    .venv/bin/python scripts/default_model_report.py [--out docs/measurements/cpu-default-model.json]

Rows: the teacher (NanoDet-Plus-m-416 from ../shared, imported), the dense student and the 2:4-sparse
student (assets/). Columns:
  mAP, AP50      COCO tiny val (80 images never trained on), reference pre-processing, score > 0.05
  road mAP       the same on highway-od val (487 road photos never trained on)
  fit mAP        the same on COCO tiny *train* (80 images the students trained on): a student that fits
                 them as well as another but scores lower on val lost generalisation, not capacity
  agree AP50     AP50 of the model against the teacher's detections (score >= 0.35) on frames of the
                 ../shared videos that the recipe did not train on (20 per clip, beside its samples)
  latency        median ms per frame end to end (pre-processing, network, decode, NMS) on a 640x360
                 frame, ONNX Runtime with 2 threads, each model in its own process, interleaved rounds
  params, MB     parameters in the ONNX initializers, package file size
  two_class_frames, phantom_frames
                 over 60 frames of every shared clip: frames where one object carries boxes of two classes,
                 and frames holding a static box the teacher does not confirm (trainer/clip_checks.py);
                 per-clip counts in the JSON
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks._models import SHARED, TEACHER_PARAM, latency_rows, teacher_package, validation_sets  # noqa: E402

RECIPE = ROOT / "configs" / "road-lite0-320-distill.yaml"
CLIPS = SHARED / "data" / "videos"


def held_out_frames(recipe: Path, per_clip: int = 20) -> list:
    """Frames of each recipe clip at indices the recipe did not sample (the next unsampled index)."""
    from trainer.clip_checks import frame_count, read_frames
    from trainer.config import load_config
    from trainer.data.video import sample_frame_indices

    frames = []
    for entry in load_config(str(recipe)).data.train:
        if entry.type != "video":
            continue
        path = ROOT / entry.video if not Path(entry.video).is_absolute() else Path(entry.video)
        total = frame_count(path)
        trained = set(sample_frame_indices(total, entry.frames))
        wanted = set()
        for i in sample_frame_indices(total, per_clip):
            while i in trained and i + 1 < total:
                i += 1
            if i not in trained:
                wanted.add(i)
        frames += read_frames(path, wanted)
    return frames


def agreement_ap50(student, teacher_dets: list, frames: list) -> float:
    """AP50 of ``student`` with the teacher's confident detections as ground truth (pycocotools)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    names = student.class_names
    gt = {"images": [], "annotations": [], "categories": [{"id": i + 1, "name": n} for i, n in enumerate(names)]}
    results = []
    for k, (frame, dets) in enumerate(zip(frames, teacher_dets, strict=True)):
        h, w = frame.shape[:2]
        gt["images"].append({"id": k + 1, "width": w, "height": h})
        for (x1, y1, x2, y2), c in zip(dets.boxes.tolist(), dets.class_ids.tolist(), strict=True):
            gt["annotations"].append({"id": len(gt["annotations"]) + 1, "image_id": k + 1, "category_id": c + 1,
                                      "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1),
                                      "iscrowd": 0})  # fmt: skip
        out = student(frame)
        for (x1, y1, x2, y2), c, s in zip(out.boxes.tolist(), out.class_ids.tolist(), out.scores.tolist(),
                                          strict=True):  # fmt: skip
            results.append({"image_id": k + 1, "category_id": c + 1, "bbox": [x1, y1, x2 - x1, y2 - y1], "score": s})
    if not results:
        return 0.0
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = gt
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes(results), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return float(ev.stats[1])


def model_size(package: Path) -> tuple[float, float]:
    import numpy as np
    import onnx

    model = onnx.load(str(package))
    params = sum(int(np.prod(t.dims)) for t in model.graph.initializer if t.data_type in (1, 10))
    return params / 1e6, package.stat().st_size / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dense", type=Path, default=ROOT / "assets" / "kestrel-lite0-320.onnx")
    parser.add_argument("--sparse", type=Path, default=ROOT / "assets" / "kestrel-lite0-320-2of4.onnx")
    parser.add_argument("--recipe", type=Path, default=RECIPE,
                        help="the recipe the students trained with: its video frames are left out of agreement")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "measurements" / "cpu-default-model.json")
    args = parser.parse_args()
    if not TEACHER_PARAM.exists():
        print(f"needs {TEACHER_PARAM} (../shared is absent)", file=sys.stderr)
        return 2
    from detector import Detector
    from detector.sparsity_report import sparsity_report
    from trainer.clip_checks import check_clip, sample_frames
    from trainer.coco_eval import CocoSplit, evaluate

    teacher_pkg = teacher_package()
    models = {"teacher NanoDet-Plus-m-416": teacher_pkg, "dense student": args.dense, "2:4 student": args.sparse}
    models = {k: v for k, v in models.items() if v.exists()}
    split, road = validation_sets().values()
    seen = CocoSplit(SHARED / "data/coco/tiny/annotations/instances_train2017.json",
                     SHARED / "data/coco/tiny/train2017")  # fmt: skip
    frames = held_out_frames(args.recipe)
    teacher = Detector.load(teacher_pkg, conf=0.35, threads=args.threads)
    teacher_dets = [teacher(f) for f in frames]
    clips = {clip.name: sample_frames(clip, 60) for clip in sorted(CLIPS.iterdir())}
    confirm = Detector.load(teacher_pkg, conf=0.1, threads=args.threads)  # what counts as "the teacher sees it"
    clip_teacher = {name: [confirm(f) for f in images] for name, images in clips.items()}
    rows = {}
    for name, pkg in models.items():
        det = Detector.load(pkg, conf=0.05, iou=0.6, max_det=100, threads=args.threads)
        metrics = evaluate(det, split, progress=False)
        params, mb = model_size(pkg)
        eligible = [r for r in sparsity_report(pkg) if r.eligible]
        rows[name] = {"package": str(pkg.relative_to(ROOT)) if pkg.is_relative_to(ROOT) else str(pkg),
                      "mAP": round(metrics["mAP"], 4), "AP50": round(metrics["AP50"], 4),
                      "road_mAP": round(evaluate(det, road, progress=False)["mAP"], 4),
                      "fit_mAP": round(evaluate(det, seen, progress=False)["mAP"], 4),
                      "agree_AP50": round(agreement_ap50(det, teacher_dets, frames), 4),
                      "params_M": round(params, 3), "file_MB": round(mb, 2),
                      "layers_2of4": f"{sum(r.compliance == 1.0 for r in eligible)}/{len(eligible)}"}  # fmt: skip
        raw = Detector.load(pkg, conf=0.35, threads=args.threads)  # the app's confidence, multi-label output
        checks = [check_clip(name, images, raw, clip_teacher[name]) for name, images in clips.items()]
        rows[name] |= {"two_class_frames": sum(c.two_class_frames for c in checks),
                       "phantom_frames": sum(c.phantom_frames for c in checks),
                       "clips": {c.clip: {"frames": c.frames, "two_class": c.two_class_frames,
                                          "phantom": c.phantom_frames} for c in checks}}  # fmt: skip
        print(f"evaluated {name}", file=sys.stderr)
    for row in latency_rows(models, args.threads, args.rounds):
        rows[row["runtime"]] |= {"latency_ms": row["median_ms"], "latency_p90_ms": row["p90_ms"]}
    print(f"{len(frames)} held-out video frames; latency: 640x360 frame, {args.threads} threads, {os.cpu_count()} cpus")
    keys = ["mAP", "AP50", "road_mAP", "fit_mAP", "agree_AP50", "latency_ms", "params_M", "file_MB", "layers_2of4",
            "two_class_frames", "phantom_frames"]
    print(f"{'model':28s}" + "".join(f"{k:>{max(len(k), 10) + 2}s}" for k in keys))
    for name, row in rows.items():
        print(f"{name:28s}" + "".join(f"{row[k]!s:>{max(len(k), 10) + 2}s}" for k in keys))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    command = " ".join(["scripts/default_model_report.py", *sys.argv[1:]])
    args.out.write_text(json.dumps({"command": command, "frames": len(frames), "threads": args.threads,
                                    "rows": rows}, indent=2))  # fmt: skip
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
