"""`make run`: the headless demo on the default model. Runtime only — no torch.

Until the bundled default model (issue 5/6) and sample clip (issue 3/6) exist, the demo imports
NanoDet-Plus-m-416 from ../shared and runs it over the COCO tiny val images.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import cv2
from tqdm import tqdm

from detector.detector import Detector
from detector.errors import KestrelError
from detector.images import read_image

from .overlay import annotate

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DEFAULT_PARAM = SHARED / "weights" / "nanodet" / "nanodet-plus-m_416.param"
DEFAULT_IMAGES = SHARED / "data" / "coco" / "tiny" / "val2017"


def default_model(cache: Path) -> Path:
    package = cache / "nanodet-plus-m_416.onnx"
    if package.exists():
        return package
    if not DEFAULT_PARAM.exists():
        raise KestrelError(
            f"no default model yet: the bundled model arrives with issue 5/6, and {DEFAULT_PARAM} is absent"
        )
    from detector.ncnn.importer import import_ncnn

    print(f"importing {DEFAULT_PARAM.name} -> {package}")
    import_ncnn(DEFAULT_PARAM, package)
    return package


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Kestrel headless demo")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "demo")
    parser.add_argument("--model", type=Path, help="model package (default: the demo model)")
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    args = parser.parse_args(argv)
    try:
        model = args.model or default_model(ROOT / "build" / "models")
        if not args.images.is_dir():
            raise KestrelError(f"image folder not found: {args.images}")
        det = Detector.load(model, conf=0.35)
        images = sorted(p for p in args.images.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        out_images = args.out / "annotated"
        out_images.mkdir(parents=True, exist_ok=True)
        counts: Counter[str] = Counter()
        latencies = []
        with open(args.out / "detections.jsonl", "w") as events:
            for path in tqdm(images, desc="detect", unit="img"):
                frame = read_image(path)
                t0 = time.perf_counter()
                dets = det(frame)
                latencies.append((time.perf_counter() - t0) * 1e3)
                counts.update(dets.labels)
                events.write(json.dumps({"image": path.name, "detections": dets.to_records()}) + "\n")
                cv2.imwrite(str(out_images / path.name), annotate(frame, dets))
    except KestrelError as exc:
        print(f"kestrel: error: {exc}", file=sys.stderr)
        return 2
    median_ms = sorted(latencies)[len(latencies) // 2] if latencies else 0.0
    print(f"\nKestrel demo: {det.describe()}")
    print(f"  {len(images)} images, {sum(counts.values())} detections; median {median_ms:.1f} ms/img")
    print("  most seen: " + ", ".join(f"{n} x{c}" for n, c in counts.most_common(6)))
    print(f"  annotated images: {out_images}/")
    print(f"  detections (JSON lines): {args.out / 'detections.jsonl'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
