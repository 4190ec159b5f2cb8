"""2:4 structured sparsity, NVIDIA ASP's recipe.

Masks are computed once, from converged dense weights: in every group of 4 consecutive weights along
the input-channel axis (for each output channel and kernel position) the 2 of largest magnitude are
kept. Eligible layers are those TensorRT's sparse kernels take: ungrouped convolutions and linear
layers with output channels a multiple of 8 and input channels a multiple of 16 — so every depthwise
conv and the RGB stem are skipped. Masks are re-applied after every optimiser step and to the EMA.
(``fade_pruned`` is the gradual alternative: the pruned weights fade out before the masks freeze.)
Layers named in ``skip`` (name prefixes) stay dense, as ASP's exclusion list allows: TensorRT picks
sparse kernels per layer, so a model may keep its most sensitive layers dense.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


def is_eligible(module: nn.Module) -> bool:
    if isinstance(module, nn.Conv2d):
        return module.groups == 1 and module.out_channels % 8 == 0 and module.in_channels % 16 == 0
    if isinstance(module, nn.Linear):
        return module.out_features % 8 == 0 and module.in_features % 16 == 0
    return False


def mask_2_of_4(weight: torch.Tensor) -> torch.Tensor:
    """Boolean mask keeping the 2 largest |w| of every 4 along dim 1 (input channels)."""
    w = weight.detach()
    moved = w.movedim(1, -1) if w.ndim > 2 else w  # (O, kh, kw, I) for convs
    groups = moved.reshape(-1, 4).abs()
    keep = torch.zeros_like(groups, dtype=torch.bool)
    keep.scatter_(1, groups.topk(2, dim=1).indices, True)
    keep = keep.reshape(moved.shape)
    return keep.movedim(-1, 1) if w.ndim > 2 else keep


def compute_masks(model: nn.Module, skip: tuple[str, ...] = ()) -> dict[str, torch.Tensor]:
    """Masks for every eligible layer whose name does not start with one of ``skip``."""
    return {
        name: mask_2_of_4(m.weight)
        for name, m in model.named_modules()
        if is_eligible(m) and not (skip and name.startswith(tuple(skip)))
    }


@torch.no_grad()
def apply_masks(model: nn.Module, masks: dict[str, torch.Tensor]) -> None:
    modules = dict(model.named_modules())
    for name, mask in masks.items():
        modules[name].weight.mul_(mask.to(modules[name].weight.dtype))


@torch.no_grad()
def fade_pruned(model: nn.Module, factor: float, skip: tuple[str, ...] = ()) -> dict[str, torch.Tensor]:
    """Scale the weights outside the current 2:4 magnitude masks by ``factor``; return those masks.

    Gradual pruning: repeated with factors whose product falls to 0, the pruned weights fade out over many
    steps instead of being cut at once, and a weight the training grows back can still swap into the mask.
    """
    masks = compute_masks(model, skip)
    modules = dict(model.named_modules())
    for name, mask in masks.items():
        weight = modules[name].weight
        weight.mul_(torch.where(mask, 1.0, factor).to(weight.dtype))
    return masks


def fade_factor(step: int, steps: int) -> float:
    """The factor of optimiser step ``step`` (1-based) on a linear fade over ``steps``: after step t the
    pruned weights that stayed pruned are at (1 - t/steps) of their start, exactly 0 from ``steps`` on."""
    before = max(0.0, 1.0 - (step - 1) / steps)
    return 0.0 if before == 0.0 else max(0.0, 1.0 - step / steps) / before


def save_masks(masks: dict[str, torch.Tensor], path: Path) -> None:
    from safetensors.torch import save_file

    save_file({k: v.to(torch.uint8).cpu().contiguous() for k, v in masks.items()}, str(path))


def load_masks(path: Path, device: torch.device) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return {k: v.bool().to(device) for k, v in load_file(str(path)).items()}
