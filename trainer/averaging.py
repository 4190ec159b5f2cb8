"""Stochastic weight averaging: the equal-weight mean of the model at the end of each of the last epochs.

An average over a stretch of training at a steady learning rate sits in a flatter part of the loss surface
than any one point of it (Izmailov et al., 2018), which is what a model trained on a few thousand images
needs most. The average of 2:4-masked weights is 2:4 with the same masks. BatchNorm statistics are averaged
like the weights; with ``optim.freeze_bn`` they do not move, so the average needs no re-estimation.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class WeightAverage:
    def __init__(self, model: nn.Module) -> None:
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.count = 0

    @torch.no_grad()
    def fold(self, model: nn.Module) -> None:
        """Add ``model``'s current weights to the mean."""
        self.count += 1
        for mean, value in zip(self.model.state_dict().values(), model.state_dict().values(), strict=True):
            if mean.dtype.is_floating_point:
                mean.add_(value.detach() - mean, alpha=1.0 / self.count)
            else:
                mean.copy_(value)

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().contiguous().cpu() for k, v in self.model.state_dict().items()}

    def load(self, tensors: dict[str, torch.Tensor], count: int) -> None:
        self.model.load_state_dict(tensors)
        self.count = count
