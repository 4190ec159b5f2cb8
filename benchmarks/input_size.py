"""Accuracy against latency for the student's input size, beside the teacher, in one run.

    .venv/bin/python scripts/export_checkpoint.py configs/road-lite0-320-distill.yaml build/models/s320.onnx
    .venv/bin/python scripts/export_checkpoint.py configs/road-lite0-320-distill.yaml build/models/s416.onnx \\
        --input-size 416
    .venv/bin/python benchmarks/input_size.py build/models/s320.onnx build/models/s416.onnx \\
        [--out docs/measurements/cpu-input-size.json]

Each package: mAP on COCO tiny val and on highway-od val (`kestrel eval` scoring), and the median end-to-end
latency on a 640x360 frame (ONNX Runtime, 2 threads, each model in its own process, interleaved rounds), as a
ratio to the teacher NanoDet-Plus-m-416 measured in the same rounds.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks._models import TEACHER_PARAM, latency_rows, teacher_package, validation_sets  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("packages", type=Path, nargs="+", help="student packages (.onnx) to compare")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "input-size.json")
    args = parser.parse_args()
    if not TEACHER_PARAM.exists():
        print(f"needs {TEACHER_PARAM} (../shared is absent)", file=sys.stderr)
        return 2
    from detector import Detector
    from trainer.coco_eval import evaluate

    sets = {f"{name}_mAP": split for name, split in validation_sets().items()}
    models = {"teacher NanoDet-Plus-m-416": teacher_package(), **{p.name: p for p in args.packages}}
    rows = {}
    for name, pkg in models.items():
        det = Detector.load(pkg, conf=0.05, iou=0.6, max_det=100, threads=args.threads)
        rows[name] = {"input": f"{det.meta.input_width}x{det.meta.input_height}"}
        rows[name] |= {k: round(evaluate(det, split, progress=False)["mAP"], 4) for k, split in sets.items()}
        print(f"evaluated {name}", file=sys.stderr)
    latency = latency_rows(models, args.threads, args.rounds)
    for row in latency:
        ratio = row["median_ms"] / latency[0]["median_ms"]
        rows[row["runtime"]] |= {"latency_ms": row["median_ms"], "latency_vs_teacher": round(ratio, 3)}
    print(f"{'model':30s} {'input':>8s} {'COCO tiny':>10s} {'highway-od':>11s} {'ms':>7s} {'x teacher':>10s}")
    for name, r in rows.items():
        print(f"{name:30s} {r['input']:>8s} {r['coco_tiny_mAP']:10.3f} {r['highway_od_mAP']:11.3f} "
              f"{r['latency_ms']:7.1f} {r['latency_vs_teacher']:10.2f}")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    command = " ".join(["benchmarks/input_size.py", *sys.argv[1:]])
    args.out.write_text(json.dumps({"command": command, "threads": args.threads, "rows": rows}, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
