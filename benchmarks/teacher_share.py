"""What a teacher-target cache could save: the teacher's forward pass against the student's forward and backward
pass, at the road recipe's batch and input size.

    .venv/bin/python benchmarks/teacher_share.py [--out docs/measurements/cpu-teacher-share.json]

A cache of the teacher's outputs on un-augmented images cannot serve the recipes (every image is augmented:
mosaic, affine, MixUp), so this bounds what one could ever save: the teacher's share of a step.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TEACHER = ROOT.parent / "shared" / "weights" / "nanodet" / "nanodet-plus-m_416.param"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default=str(ROOT / "configs" / "road-lite0-320-distill.yaml"))
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "measurements" / "cpu-teacher-share.json")
    args = parser.parse_args()
    if not TEACHER.exists():
        print(f"needs {TEACHER} (../shared is absent)", file=sys.stderr)
        return 2
    import torch

    from detector.models import build_model
    from trainer.config import load_config
    from trainer.teacher import Teacher

    cfg = load_config(args.recipe)
    mcfg, size, batch = cfg.model_config(), cfg.model_config().input_size, cfg.optim.batch_size
    teacher = Teacher(TEACHER, torch.device("cpu"), size)
    teacher.bind(mcfg.head.strides, mcfg.center_offset, mcfg.head.reg_max, mcfg.head.num_classes,
                 mcfg.neck.out_channels, cfg.distill.feature_at)  # fmt: skip
    student = build_model(mcfg)
    images = torch.randint(0, 255, (batch, size, size, 3), dtype=torch.uint8)
    x = images.permute(0, 3, 1, 2).float()
    times: dict[str, list[float]] = {"teacher forward": [], "student forward + backward": []}
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        teacher.run(images)
        times["teacher forward"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        out, _ = student(x, with_features=cfg.distill.feature_at)
        out.float().mean().backward()
        times["student forward + backward"].append(time.perf_counter() - t0)
    rows = {k: round(statistics.median(v[1:]), 3) for k, v in times.items()}
    share = rows["teacher forward"] / (rows["teacher forward"] + rows["student forward + backward"])
    for name, seconds in rows.items():
        print(f"{name:28s} {seconds:.3f} s per batch of {batch} at {size}")
    print(f"teacher share of a step: {100 * share:.1f} %")
    args.out.write_text(json.dumps({"how": "benchmarks/teacher_share.py", "batch": batch, "input": size,
                                    "median_s": rows, "teacher_share": round(share, 3)}, indent=1) + "\n")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
