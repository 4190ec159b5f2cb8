"""ShuffleNetV2 as NanoDet uses it (out stages 2, 3, 4; parameter names match NanoDet checkpoints)."""

from __future__ import annotations

import torch
from torch import nn

from ..layers import make_act

STAGE_CHANNELS = {"0.5x": (24, 48, 96, 192), "1.0x": (24, 116, 232, 464), "1.5x": (24, 176, 352, 704)}
STAGE_REPEATS = (4, 8, 4)


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class ShuffleV2Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, act: str) -> None:
        super().__init__()
        self.stride = stride
        half = cout // 2
        if stride > 1:
            self.branch1 = nn.Sequential(
                nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(cin),
                nn.Conv2d(cin, half, 1, bias=False), nn.BatchNorm2d(half), make_act(act),
            )  # fmt: skip
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(
            nn.Conv2d(cin if stride > 1 else half, half, 1, bias=False), nn.BatchNorm2d(half), make_act(act),
            nn.Conv2d(half, half, 3, stride, 1, groups=half, bias=False), nn.BatchNorm2d(half),
            nn.Conv2d(half, half, 1, bias=False), nn.BatchNorm2d(half), make_act(act),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    def __init__(self, model_size: str = "1.0x", act: str = "leakyrelu") -> None:
        super().__init__()
        stem, *stages = STAGE_CHANNELS[model_size]
        self.out_channels = tuple(stages)
        self.conv1 = nn.Sequential(nn.Conv2d(3, stem, 3, 2, 1, bias=False), nn.BatchNorm2d(stem), make_act(act))
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = stem
        for name, repeats, cout in zip(("stage2", "stage3", "stage4"), STAGE_REPEATS, stages, strict=True):
            blocks = [ShuffleV2Block(cin, cout, 2, act)]
            blocks += [ShuffleV2Block(cout, cout, 1, act) for _ in range(repeats - 1)]
            setattr(self, name, nn.Sequential(*blocks))
            cin = cout

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.maxpool(self.conv1(x))
        outs = []
        for stage in (self.stage2, self.stage3, self.stage4):
            x = stage(x)
            outs.append(x)
        return outs
