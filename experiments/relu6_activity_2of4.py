"""Experiment: does ReLU6 "starve" the 2:4 student? (the paper's reason for SiLU)

The paper says that after 2:4 pruning, ReLU6 zeroes so many activations that gradients vanish and training stops
converging. This measures it on Kestrel's students: for every ReLU6 in the backbone, the share of positions where
it passes a gradient (0 < x < 6), and the channels that are dead (pass a gradient at under 1 % of positions) —
for the dense model, the same weights with one-shot 2:4 magnitude masks (no retraining), and the retrained 2:4
model. Images: the first N of COCO tiny val and highway-od val, letterboxed as the detector does.

    .venv/bin/python experiments/relu6_activity_2of4.py configs/road-lite0-320-distill.yaml \\
        assets/kestrel-lite0-320.onnx assets/kestrel-lite0-320-2of4.onnx --images 64 --json OUT.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from detector.images import read_image  # noqa: E402
from detector.models import build_model  # noqa: E402
from detector.models.package_weights import load_package_weights  # noqa: E402
from detector.package import read_meta  # noqa: E402
from detector.preprocess import Preprocessor  # noqa: E402
from trainer.config import load_config  # noqa: E402
from trainer.sparsity import is_eligible, mask_2_of_4  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
IMAGE_DIRS = (SHARED / "coco" / "tiny" / "val2017", SHARED / "highway-od" / "val")


def batch(package: str, count: int) -> torch.Tensor:
    pre = Preprocessor(read_meta(package))
    files = [f for d in IMAGE_DIRS for f in sorted(d.glob("*.jpg"))[: count // len(IMAGE_DIRS)]]
    if not files:
        raise SystemExit(f"no images under {', '.join(map(str, IMAGE_DIRS))}")
    return torch.from_numpy(np.stack([pre(read_image(f))[0] for f in files]))


def activity(model: nn.Module, images: torch.Tensor) -> list[dict]:
    """Per backbone ReLU6: share of positions passing a gradient, and dead channels."""
    live: dict[str, torch.Tensor] = {}
    seen: dict[str, int] = {}

    def hook(name: str):
        def record(_m: nn.Module, _i: tuple, out: torch.Tensor) -> None:
            passing = ((out > 0) & (out < 6)).float()
            live[name] = live.get(name, 0) + passing.sum(dim=(0, 2, 3))
            seen[name] = seen.get(name, 0) + out.shape[0] * out.shape[2] * out.shape[3]
        return record

    hooks = [m.register_forward_hook(hook(n)) for n, m in model.named_modules()
             if isinstance(m, nn.ReLU6) and n.startswith("backbone.")]  # fmt: skip
    with torch.no_grad():
        for chunk in images.split(16):
            model(chunk)
    for h in hooks:
        h.remove()
    rows = []
    for name, total in live.items():
        share = total / seen[name]
        rows.append({"layer": name, "channels": int(share.numel()), "passing": round(float(share.mean()), 4),
                     "dead_channels": int((share < 0.01).sum())})  # fmt: skip
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help="the recipe whose network the packages hold")
    parser.add_argument("dense", help="dense model package (.onnx)")
    parser.add_argument("sparse", help="retrained 2:4 model package (.onnx)")
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    mcfg = load_config(args.config).model_config()
    mcfg = dataclasses.replace(mcfg, backbone=dataclasses.replace(mcfg.backbone, pretrained=False))
    images = batch(args.dense, args.images)
    dense = load_package_weights(build_model(mcfg), args.dense).eval()
    oneshot = load_package_weights(build_model(mcfg), args.dense).eval()
    with torch.no_grad():
        for module in oneshot.modules():
            if is_eligible(module):
                module.weight.mul_(mask_2_of_4(module.weight))
    sparse = load_package_weights(build_model(mcfg), args.sparse).eval()
    result = {"command": " ".join(["experiments/relu6_activity_2of4.py", *sys.argv[1:]]),
              "images": int(images.shape[0]), "dead": "passes a gradient (0 < x < 6) at under 1 % of positions",
              "models": {}}  # fmt: skip
    print(f"{'model':<22}{'passing (mean)':>16}{'dead channels':>15}{'of':>7}")
    for label, model in (("dense", dense), ("one-shot 2:4", oneshot), ("retrained 2:4", sparse)):
        rows = activity(model, images)
        passing = float(np.mean([r["passing"] for r in rows]))
        dead, channels = sum(r["dead_channels"] for r in rows), sum(r["channels"] for r in rows)
        result["models"][label] = {"passing_mean": round(passing, 4), "dead_channels": dead, "channels": channels,
                                   "layers": rows}  # fmt: skip
        print(f"{label:<22}{passing:>16.3f}{dead:>15}{channels:>7}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
