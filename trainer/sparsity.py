"""2:4 structured sparsity, NVIDIA ASP's recipe.

Masks are computed once, from converged dense weights: in every group of 4 consecutive weights along
the input-channel axis (for each output channel and kernel position) the 2 of largest magnitude are
kept. Eligible layers are those TensorRT's sparse kernels take: ungrouped convolutions and linear
layers with output channels a multiple of 8 and input channels a multiple of 16 — so every depthwise
conv and the RGB stem are skipped. Masks are re-applied after every optimiser step and to the EMA.
Layers named in ``skip`` (name prefixes) stay dense, as ASP's exclusion list allows: TensorRT picks
sparse kernels per layer, so a model may keep its most sensitive layers dense.
"""

from __future__ import annotations

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
