"""Channel permutation before 2:4 pruning (NVIDIA ASP's idea): a 2:4 mask keeps the 2 largest of every 4
consecutive input-channel weights, and which channels share a group is an accident of training. Where the
channels entering a layer can be reordered without changing what the network computes — the layers producing
them feed it alone, through per-channel operations — a better order lets the masks keep more weight.

Free layers in Kestrel's networks: the projection of every MBConv block (its hidden channels), the first
block's pointwise convolution, the head's second pointwise convolutions and its output convolutions. The order
comes from greedy channel swaps; it is deterministic, so a resumed run finds the same one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from detector.errors import KestrelError
from detector.models.package_weights import conv_norms

from .sparsity import is_eligible, mask_2_of_4


def free_layers(model: nn.Module) -> dict[str, list[str]]:
    """Consumer layer -> the layers producing its input channels, for consumers whose inputs can be reordered
    (every producer feeds this consumer only, through per-channel operations)."""
    names = {n for n, _ in model.named_modules()}
    chains: dict[str, list[str]] = {}
    for name in sorted(names):
        if name.endswith(".conv_pwl"):
            block = name.rsplit(".", 1)[0]
            chains[name] = [f"{block}.conv_pw", f"{block}.conv_dw"]
        elif name.startswith("head.cls_convs.") and name.endswith(".1.pointwise"):
            level = name[: -len(".1.pointwise")]
            chains[name] = [f"{level}.0.pointwise", f"{level}.1.depthwise"]
        elif name.startswith("head.gfl_cls."):
            chains[name] = [f"head.cls_convs.{name.rsplit('.', 1)[1]}.1.pointwise"]
    chains["backbone.body.blocks.0.0.conv_pw"] = ["backbone.body.conv_stem", "backbone.body.blocks.0.0.conv_dw"]
    return {c: p for c, p in chains.items() if c in names and all(q in names for q in p)}


def kept(weight: torch.Tensor) -> tuple[float, float]:
    """(|w| kept by 2:4 magnitude masks, |w| in all)."""
    weight = weight.detach()
    return float((weight.abs() * mask_2_of_4(weight)).sum()), float(weight.abs().sum())


def top2(groups: np.ndarray) -> np.ndarray:
    """Sum of the 2 largest of each group of 4 (last axis)."""
    a, b, c, d = (groups[..., k] for k in range(4))
    low1, high1, low2, high2 = np.minimum(a, b), np.maximum(a, b), np.minimum(c, d), np.maximum(c, d)
    return np.maximum(high1, high2) + np.maximum(np.minimum(high1, high2), np.maximum(low1, low2))


def swap_search(magnitude: np.ndarray, sweeps: int = 4) -> np.ndarray:
    """Input-channel order (a permutation of the columns of ``magnitude`` [rows, I]) that raises the kept
    magnitude: for each group, the best swap of one of its channels with one of another group, until a sweep
    gains under 0.01 %."""
    rows, width = magnitude.shape
    count = width // 4
    order = np.arange(width)
    cols = magnitude.copy()
    for _ in range(sweeps):
        before = top2(cols.reshape(rows, count, 4)).sum()
        for a in range(count):
            groups = cols.reshape(rows, count, 4)
            own = groups[:, a]  # [rows, 4]
            base = top2(own).sum() + top2(groups).sum(axis=0)  # [count]
            # new_a[r, i, b, j]: group a with its channel i replaced by channel j of group b
            new_a = np.broadcast_to(own[:, None, None, None, :], (rows, 4, count, 4, 4)).copy()
            new_b = np.broadcast_to(groups[:, None, :, None, :], (rows, 4, count, 4, 4)).copy()
            for i in range(4):
                new_a[:, i, :, :, i] = groups
                for j in range(4):
                    new_b[:, i, :, j, j] = own[:, i, None]
            gain = top2(new_a).sum(axis=0) + top2(new_b).sum(axis=0) - base[None, :, None]  # [4, count, 4]
            gain[:, a, :] = 0.0
            i, b, j = np.unravel_index(int(np.argmax(gain)), gain.shape)
            if gain[i, b, j] > 1e-9 * before:
                x, y = 4 * a + i, 4 * b + j
                cols[:, [x, y]] = cols[:, [y, x]]
                order[[x, y]] = order[[y, x]]
        after = top2(cols.reshape(rows, count, 4)).sum()
        if after - before < 1e-4 * before:
            break
    return order


def permute_outputs(module: nn.Module, norm: nn.Module | None, order: torch.Tensor) -> None:
    module.weight.copy_(module.weight[order])
    if module.bias is not None:
        module.bias.copy_(module.bias[order])
    if norm is not None:
        for tensor in (norm.weight, norm.bias, norm.running_mean, norm.running_var):
            tensor.copy_(tensor[order])


def permute(model: nn.Module, skip: tuple[str, ...] = (), report: Callable[[dict], None] | None = None) -> list[dict]:
    """Reorder the free layers' input channels in place (the network computes the same); one row per layer,
    the magnitude its 2:4 masks keep before and after. Layers named by a ``skip`` prefix stay as they are."""
    modules = dict(model.named_modules())
    norms = conv_norms(model)
    size = getattr(getattr(model, "config", None), "input_size", 320)
    device = next(model.parameters()).device
    probe = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(0)).to(device) * 4 - 2
    reference = _outputs(model, probe)
    rows = []
    with torch.no_grad():
        for consumer, producers in free_layers(model).items():
            conv = modules[consumer]
            if not is_eligible(conv) or consumer.startswith(skip):
                continue
            weight = conv.weight.detach().movedim(1, -1).reshape(-1, conv.in_channels).abs().cpu().numpy()
            before = kept(conv.weight)[0]
            order = torch.from_numpy(swap_search(weight)).to(conv.weight.device)
            conv.weight.copy_(conv.weight[:, order])
            for name in producers:
                permute_outputs(modules[name], norms.get(modules[name]), order)
            after, total = kept(conv.weight)
            rows.append({"layer": consumer, "in_channels": conv.in_channels, "kept_before": round(before / total, 4),
                         "kept_after": round(after / total, 4)})  # fmt: skip
            if report:
                report(rows[-1])
    change = float((_outputs(model, probe) - reference).norm() / reference.norm())
    if change > 1e-4:  # a layer named like a free one whose inputs are not free: refuse rather than train on it
        raise KestrelError(f"channel permutation changed what the network computes (relative {change:.1e}): this "
                           "network's layers do not follow the free-layer rules of trainer/permutation.py")
    return rows


def _outputs(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    training = model.training
    try:
        with torch.no_grad():
            return model.eval()(x)
    finally:
        model.train(training)
