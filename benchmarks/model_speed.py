"""Kestrel's runtime vs PyPI ncnn on NanoDet-Plus-m-416, batch 1, same run, interleaved.

    .venv/bin/python benchmarks/model_speed.py [--threads 2] [--rounds 10] [--out build/bench/model_speed.json]

Rows: ncnn running the original .param/.bin (network only, default options); Kestrel's ONNX Runtime
backend on the imported package (network only); Kestrel end to end (resize + normalise + network
+ decode + NMS on a real COCO image). Medians, p90 and speed-up relative to ncnn.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared"
PARAM = SHARED / "weights" / "nanodet" / "nanodet-plus-m_416.param"
IMAGE_DIR = SHARED / "data" / "coco" / "tiny" / "val2017"


def ncnn_step(param: str, image: str, threads: int):
    from detector.images import read_image
    from detector.ncnn.reference import NcnnReference
    from detector.package import PackageMeta
    from detector.preprocess import Preprocessor

    ref = NcnnReference(param, threads=threads, exact=False)
    meta = PackageMeta(name="x", class_names=("a",), input_width=416, input_height=416, strides=(8,), reg_max=7)
    x, _ = Preprocessor(meta)(read_image(image))
    return lambda: ref(x)


def kestrel_net_step(package: str, image: str, threads: int):
    from detector import Detector
    from detector.images import read_image
    from detector.preprocess import Preprocessor

    det = Detector.load(package, backend="onnxruntime", threads=threads)
    x, _ = Preprocessor(det.meta)(read_image(image))
    batch = x[None]
    return lambda: det.backend.infer(batch)


def kestrel_e2e_step(package: str, image: str, threads: int):
    from detector import Detector
    from detector.images import read_image

    det = Detector.load(package, backend="onnxruntime", threads=threads, conf=0.35)
    frame = read_image(image)
    return lambda: det(frame)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--per-round", type=int, default=20)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "model_speed.json")
    args = parser.parse_args()
    if not PARAM.exists():
        print(f"needs {PARAM} (../shared is absent)", file=sys.stderr)
        return 2
    from benchmarks._workers import Worker, interleave, print_table, summarise
    from detector.ncnn.importer import import_ncnn

    package = ROOT / "build" / "bench" / "nanodet-plus-m_416.onnx"
    import_ncnn(PARAM, package)
    image = str(sorted(IMAGE_DIR.glob("*.jpg"))[0])
    workers = [
        Worker("ncnn (original files)", ncnn_step, str(PARAM), image, args.threads),
        Worker("kestrel onnxruntime, network", kestrel_net_step, str(package), image, args.threads),
        Worker("kestrel end to end", kestrel_e2e_step, str(package), image, args.threads),
    ]
    try:
        samples = interleave(workers, args.rounds, args.per_round)
    finally:
        for w in workers:
            w.close()
    rows = summarise(samples, reference="ncnn (original files)")
    print(f"NanoDet-Plus-m 416, batch 1, {args.threads} threads, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cpus, {args.rounds} interleaved rounds x {args.per_round}")  # fmt: skip
    print_table(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"model": "nanodet-plus-m_416", "threads": args.threads, "rows": rows}, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
