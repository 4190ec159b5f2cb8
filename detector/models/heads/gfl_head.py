"""NanoDet's GFL head (NanoDetHead): per-level towers, shared cls/reg output conv, no centerness.

Optionally the GFLv2 distribution-guided quality predictor (DGQP): the class logits are turned into
logit(sigmoid(cls) * q), q predicted from the top-k of each side's box distribution, so everything
downstream (QFL, export, runtime) sees one class score.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import ConvModule, DepthwiseConvModule


class DGQP(nn.Module):
    """GFLv2 quality branch: top-k + mean of each side's softmaxed distribution -> MLP -> sigmoid."""

    def __init__(self, reg_max: int, topk: int = 4, hidden: int = 64) -> None:
        super().__init__()
        self.reg_max, self.topk = reg_max, topk
        self.reg_conf = nn.Sequential(nn.Conv2d(4 * (topk + 1), hidden, 1), nn.ReLU(inplace=True),
                                      nn.Conv2d(hidden, 1, 1), nn.Sigmoid())  # fmt: skip

    def start_at(self, quality: float) -> None:
        """Predict ``quality`` everywhere to begin with (a head whose scores are already calibrated,
        e.g. transplanted from a teacher, then starts from its own scores instead of half of them)."""
        last = self.reg_conf[2]
        nn.init.normal_(last.weight, std=1e-3)
        nn.init.constant_(last.bias, math.log(quality / (1 - quality)))

    def forward(self, bins: torch.Tensor) -> torch.Tensor:
        n, _, h, w = bins.shape
        prob = F.softmax(bins.reshape(n, 4, self.reg_max + 1, h, w), dim=2)
        top, _ = prob.topk(self.topk, dim=2)
        stat = torch.cat([top, top.mean(dim=2, keepdim=True)], dim=2).reshape(n, 4 * (self.topk + 1), h, w)
        return self.reg_conf(stat)


class GFLHead(nn.Module):
    def __init__(
        self, num_classes: int, in_channels: int, feat_channels: int = 96, stacked_convs: int = 2,
        strides: tuple[int, ...] = (8, 16, 32), reg_max: int = 7, kernel_size: int = 3,
        act: str = "leakyrelu", conv_type: str = "dw", dgqp: bool = False, norm: bool = True,
    ) -> None:  # fmt: skip
        super().__init__()
        self.num_classes, self.reg_max, self.strides = num_classes, reg_max, tuple(strides)
        block = DepthwiseConvModule if conv_type == "dw" else ConvModule
        pad = kernel_size // 2
        self.cls_convs = nn.ModuleList(
            nn.ModuleList(
                block(in_channels if i == 0 else feat_channels, feat_channels, kernel_size, 1, pad, act=act,
                      norm=norm)  # fmt: skip
                for i in range(stacked_convs)
            )
            for _ in strides
        )
        out = num_classes + 4 * (reg_max + 1)
        self.gfl_cls = nn.ModuleList(nn.Conv2d(feat_channels, out, 1) for _ in strides)
        self.dgqp = nn.ModuleList(DGQP(reg_max) for _ in strides) if dgqp else None
        self.init_weights()

    def init_weights(self) -> None:
        prior = -math.log((1 - 0.01) / 0.01)  # class bias -4.595: prior probability 0.01
        for conv in self.gfl_cls:
            nn.init.normal_(conv.weight, std=0.01)
            nn.init.constant_(conv.bias, 0.0)
            nn.init.constant_(conv.bias[: self.num_classes], prior)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        outputs = []
        for level, x in enumerate(feats):
            for conv in self.cls_convs[level]:
                x = conv(x)
            out = self.gfl_cls[level](x)
            if self.dgqp is not None:
                cls, bins = out.split([self.num_classes, 4 * (self.reg_max + 1)], dim=1)
                q = self.dgqp[level](bins)
                joint = (torch.sigmoid(cls) * q).clamp(1e-6, 1 - 1e-6)
                out = torch.cat([torch.logit(joint), bins], dim=1)
            outputs.append(out.flatten(2))
        return torch.cat(outputs, dim=2).permute(0, 2, 1)
