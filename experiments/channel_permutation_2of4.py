"""Experiment: how much weight magnitude does channel permutation let 2:4 masks keep? (NVIDIA ASP's permutation)

A 2:4 mask keeps the 2 largest of every 4 consecutive input-channel weights. Which channels share a group is an
accident of training; where the channels entering a layer can be reordered without changing what the network
computes, a better order lets the masks keep more. This finds such orders by channel swaps (ASP's greedy
search) for the layers whose input channels are free to reorder — the projection of every MBConv block (its
hidden channels), the first block's pointwise convolution, the head's second pointwise convolutions and its
output convolutions — applies them to the dense model, checks that the network's output is unchanged, and
reports the magnitude the masks keep (by layer and in all) and the output error of one-shot 2:4 (no
retraining) against the dense model, in the original order and permuted. ``--save`` writes the permuted dense
weights as a ``sparsity.init`` for a 2:4 run.

    .venv/bin/python experiments/channel_permutation_2of4.py configs/road-lite0-320-2of4.yaml \\
        assets/kestrel-lite0-320.onnx --images 32 --json OUT.json [--save permuted.safetensors]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from relu6_activity_2of4 import batch  # noqa: E402
from torch import nn  # noqa: E402

from detector.models import build_model  # noqa: E402
from detector.models.package_weights import load_package_weights  # noqa: E402
from trainer.config import load_config  # noqa: E402
from trainer.permutation import kept, permute  # noqa: E402
from trainer.sparsity import is_eligible, mask_2_of_4  # noqa: E402


def say(row: dict) -> None:
    print(f"{row['layer']:<44}{row['kept_before']:.4f} -> {row['kept_after']:.4f}", file=sys.stderr, flush=True)


def masked(model: nn.Module) -> nn.Module:
    with torch.no_grad():
        for module in model.modules():
            if is_eligible(module):
                module.weight.mul_(mask_2_of_4(module.weight))
    return model


def total_kept(model: nn.Module) -> float:
    sums = [kept(m.weight) for m in model.modules() if is_eligible(m)]
    return sum(k for k, _ in sums) / sum(t for _, t in sums)


def relative_error(model: nn.Module, reference: torch.Tensor, images: torch.Tensor) -> float:
    with torch.no_grad():
        out = torch.cat([model(chunk) for chunk in images.split(16)])
    return float((out - reference).norm() / reference.norm())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help="the recipe whose network the package holds")
    parser.add_argument("dense", help="dense model package (.onnx)")
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--save", type=Path, help="write the permuted dense weights (safetensors)")
    args = parser.parse_args()
    mcfg = load_config(args.config).model_config()
    mcfg = dataclasses.replace(mcfg, backbone=dataclasses.replace(mcfg.backbone, pretrained=False))
    torch.set_num_threads(1)  # leave the other core to a training run
    images = batch(args.dense, args.images)
    original = load_package_weights(build_model(mcfg), args.dense).eval()
    with torch.no_grad():
        reference = torch.cat([original(chunk) for chunk in images.split(16)])
    permuted = load_package_weights(build_model(mcfg), args.dense).eval()
    start = time.perf_counter()
    layers = permute(permuted, report=say)
    seconds = time.perf_counter() - start
    same = relative_error(permuted, reference, images)
    if same > 1e-5:
        raise SystemExit(f"the permuted network computes something else (relative output change {same:.2e})")
    if args.save:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in permuted.state_dict().items()}, str(args.save))
    kept_before, kept_after = total_kept(original), total_kept(permuted)
    error_before = relative_error(masked(original), reference, images)
    error_after = relative_error(masked(permuted), reference, images)
    free_before = float(np.mean([r["kept_before"] for r in layers]))
    free_after = float(np.mean([r["kept_after"] for r in layers]))
    print(f"{len(layers)} layers with free input order, searched in {seconds:.0f} s; permuted output change {same:.1e}")
    print(f"{'':<38}{'original order':>16}{'permuted':>12}")
    print(f"{'|w| kept, free layers (mean)':<38}{free_before:>16.4f}{free_after:>12.4f}")
    print(f"{'|w| kept, all 2:4 layers':<38}{kept_before:>16.4f}{kept_after:>12.4f}")
    print(f"{'one-shot 2:4 output error (rel. L2)':<38}{error_before:>16.4f}{error_after:>12.4f}")
    if args.json:
        result = {"command": " ".join(["experiments/channel_permutation_2of4.py", *sys.argv[1:]]),
                  "images": int(images.shape[0]), "search_seconds": round(seconds, 1),
                  "permuted_output_change": same, "free_layers": len(layers),
                  "kept_free_layers": {"original": round(free_before, 4), "permuted": round(free_after, 4)},
                  "kept_all_2of4_layers": {"original": round(kept_before, 4), "permuted": round(kept_after, 4)},
                  "oneshot_output_error": {"original": round(error_before, 4), "permuted": round(error_after, 4)},
                  "layers": layers}  # fmt: skip
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
