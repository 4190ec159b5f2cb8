"""Where should GFL decoding live: in numpy (only above-threshold points) or inside the ONNX graph?

    .venv/bin/python benchmarks/decode_placement.py [--out build/bench/decode_placement.json]

Same package, two layouts (gfl_bins + numpy decode; gfl_distances decoded in-graph), each end to end
on a real COCO image (network + decode + NMS), interleaved in separate processes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PARAM = ROOT.parent / "shared" / "weights" / "nanodet" / "nanodet-plus-m_416.param"
IMAGE_DIR = ROOT.parent / "shared" / "data" / "coco" / "tiny" / "val2017"


def e2e_step(package: str, image: str, conf: float):
    from detector import Detector
    from detector.images import read_image
    from detector.preprocess import Preprocessor

    det = Detector.load(package, backend="onnxruntime", threads=2, conf=conf)
    x, tf = Preprocessor(det.meta)(read_image(image))
    batch = x[None]
    return lambda: det.postprocess(det.backend.infer(batch)[0], tf)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "decode_placement.json")
    args = parser.parse_args()
    if not PARAM.exists():
        print(f"needs {PARAM} (../shared is absent)", file=sys.stderr)
        return 2
    import onnx

    from benchmarks._workers import Worker, interleave, print_table, summarise
    from detector.graph_decode import add_distance_decoding
    from detector.ncnn.importer import import_ncnn

    out_dir = ROOT / "build" / "bench"
    bins = out_dir / "plus416_bins.onnx"
    dist = out_dir / "plus416_distances.onnx"
    import_ncnn(PARAM, bins)
    onnx.save(add_distance_decoding(onnx.load(str(bins)))[0], str(dist))
    image = str(sorted(IMAGE_DIR.glob("*.jpg"))[0])
    results = {}
    for conf in (0.35, 0.05):
        workers = [Worker(f"numpy decode, conf {conf}", e2e_step, str(bins), image, conf),
                   Worker(f"in-graph decode, conf {conf}", e2e_step, str(dist), image, conf)]  # fmt: skip
        try:
            samples = interleave(workers, args.rounds, 20)
        finally:
            for w in workers:
                w.close()
        rows = summarise(samples, reference=workers[0].name)
        print_table(rows)
        results[str(conf)] = rows
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
