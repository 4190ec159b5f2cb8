"""Optimiser (no weight decay on norms and biases) and the learning-rate schedule."""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import OptimConfig


def build_optimizer(model: nn.Module, cfg: OptimConfig, slow: list[nn.Parameter] = (),
                    slow_scale: float = 1.0) -> torch.optim.Optimizer:  # fmt: skip
    """Weight decay on weights only; ``slow`` parameters (e.g. taken from a teacher) get ``slow_scale`` x lr."""
    slow_ids = {id(p) for p in slow} if slow_scale != 1.0 else set()
    buckets: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    for p in model.parameters():
        if p.requires_grad or id(p) in slow_ids:
            buckets.setdefault((p.ndim > 1, id(p) in slow_ids), []).append(p)
    order = sorted(buckets.items(), key=lambda kv: (not kv[0][0], kv[0][1]))  # decayed first, as before
    groups = [{"params": params, "weight_decay": cfg.weight_decay if decays else 0.0,
               "lr_scale": slow_scale if is_slow else 1.0} for (decays, is_slow), params in order]  # fmt: skip
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=True)
    return torch.optim.AdamW(groups, lr=cfg.lr)


def lr_factor(step: int, total_steps: int, steps_per_epoch: int, cfg: OptimConfig) -> float:
    """Linear warm-up from ``warmup_ratio`` over ``warmup_steps``, then cosine or multistep (in epochs)."""
    if step < cfg.warmup_steps:
        return cfg.warmup_ratio + (1 - cfg.warmup_ratio) * step / cfg.warmup_steps
    if cfg.schedule == "multistep":
        epoch = step // max(steps_per_epoch, 1)
        return cfg.gamma ** sum(epoch >= m for m in cfg.milestones)
    span = max(total_steps - cfg.warmup_steps, 1)
    progress = min((step - cfg.warmup_steps) / span, 1.0)
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
