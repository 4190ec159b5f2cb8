"""Parameters and FLOPs of a model, counted by torch's own FLOP counter.

FLOPs are 2 x multiply-accumulates, the convention of NanoDet's tables (NanoDet-Plus-m-416 counts
1.52 G here, as NanoDet reports).
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_flops(model: torch.nn.Module, input_size: int) -> int:
    """FLOPs of one forward pass at batch 1."""
    model = model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, 3, input_size, input_size))
    return counter.get_total_flops()
