"""NanoDet-Plus's Ghost-PAN: ghost bottlenecks on concatenated levels, depthwise down-sampling,
and extra coarser levels. Parameter names match NanoDet checkpoints."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..layers import ConvModule, DepthwiseConvModule, make_act


class GhostModule(nn.Module):
    def __init__(self, cin: int, cout: int, act: str | None, ratio: int = 2, dw_size: int = 3) -> None:
        super().__init__()
        init = math.ceil(cout / ratio)
        new = init * (ratio - 1)
        self.primary_conv = nn.Sequential(nn.Conv2d(cin, init, 1, bias=False), nn.BatchNorm2d(init), make_act(act))
        self.cheap_operation = nn.Sequential(
            nn.Conv2d(init, new, dw_size, 1, dw_size // 2, groups=init, bias=False),
            nn.BatchNorm2d(new),
            make_act(act),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.primary_conv(x)
        return torch.cat([x1, self.cheap_operation(x1)], dim=1)


class GhostBottleneck(nn.Module):
    """Stride-1 ghost bottleneck with a depthwise+pointwise shortcut when channels change."""

    def __init__(self, cin: int, mid: int, cout: int, dw_kernel: int, act: str) -> None:
        super().__init__()
        self.ghost1 = GhostModule(cin, mid, act)
        self.ghost2 = GhostModule(mid, cout, None)
        if cin == cout:
            self.shortcut = nn.Sequential()
        else:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cin, dw_kernel, 1, (dw_kernel - 1) // 2, groups=cin, bias=False),
                nn.BatchNorm2d(cin),
                nn.Conv2d(cin, cout, 1, bias=False),
                nn.BatchNorm2d(cout),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ghost2(self.ghost1(x)) + self.shortcut(x)


class GhostBlocks(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, act: str, num_blocks: int = 1) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*(GhostBottleneck(cin, cout, cout, kernel, act) for _ in range(num_blocks)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


class GhostPAN(nn.Module):
    def __init__(
        self, in_channels: tuple[int, ...], out_channels: int, kernel_size: int = 5,
        num_extra_level: int = 1, act: str = "leakyrelu", reduce_kernel: int = 1,
    ) -> None:  # fmt: skip
        super().__init__()
        self.out_channels = out_channels
        n, pad = len(in_channels), kernel_size // 2
        self.upsample = nn.Upsample(scale_factor=2, mode="bilinear")
        self.reduce_layers = nn.ModuleList(
            ConvModule(c, out_channels, reduce_kernel, padding=reduce_kernel // 2, act=act) for c in in_channels
        )
        self.top_down_blocks = nn.ModuleList(
            GhostBlocks(out_channels * 2, out_channels, kernel_size, act) for _ in range(n - 1)
        )
        self.downsamples = nn.ModuleList(
            DepthwiseConvModule(out_channels, out_channels, kernel_size, 2, pad, act) for _ in range(n - 1)
        )
        self.bottom_up_blocks = nn.ModuleList(
            GhostBlocks(out_channels * 2, out_channels, kernel_size, act) for _ in range(n - 1)
        )
        self.extra_lvl_in_conv = nn.ModuleList(
            DepthwiseConvModule(out_channels, out_channels, kernel_size, 2, pad, act) for _ in range(num_extra_level)
        )
        self.extra_lvl_out_conv = nn.ModuleList(
            DepthwiseConvModule(out_channels, out_channels, kernel_size, 2, pad, act) for _ in range(num_extra_level)
        )

    def forward(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        return self.aggregate(self.reduce(inputs))

    def reduce(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        """The backbone's maps brought to the neck's width: the only part that depends on the backbone."""
        return [reduce(x) for reduce, x in zip(self.reduce_layers, inputs, strict=True)]

    def aggregate(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        """Top-down and bottom-up paths (and extra levels) over the reduced maps."""
        inner = [inputs[-1]]
        for idx in range(len(inputs) - 1, 0, -1):
            block = self.top_down_blocks[len(inputs) - 1 - idx]
            inner.insert(0, block(torch.cat([self.upsample(inner[0]), inputs[idx - 1]], 1)))
        outs = [inner[0]]
        for idx in range(len(inputs) - 1):
            down = self.downsamples[idx](outs[-1])
            outs.append(self.bottom_up_blocks[idx](torch.cat([down, inner[idx + 1]], 1)))
        for extra_in, extra_out in zip(self.extra_lvl_in_conv, self.extra_lvl_out_conv, strict=True):
            outs.append(extra_in(inputs[-1]) + extra_out(outs[-1]))
        return outs
